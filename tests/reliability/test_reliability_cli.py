"""The bad-input corpus through the CLI, run as a user runs it: the `imageauth` console script.

Every file gets a row (a verdict or its documented error code), the run never
crashes on a bad file, and the exit status is 1 exactly when some input failed.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from badinputs import small_jpeg

pytestmark = pytest.mark.timeout(180)
CLI = Path(sys.executable).with_name("imageauth")


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "predict", "--no-progress", *arguments],
        capture_output=True, text=True, timeout=150, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def corpus_files(corpus, tmp_path_factory) -> dict[str, Path]:
    """Each corpus file on disk, under a name with spaces and non-ASCII letters."""
    folder = tmp_path_factory.mktemp("corpus") / "uploads ü"
    folder.mkdir()
    paths = {}
    for case in corpus:
        path = folder / f"{case.name} – {case.filename}"
        path.write_bytes(case.data)
        paths[case.name] = path
    return paths


@pytest.fixture(scope="module")
def json_run(corpus_files) -> tuple[int, dict, str]:
    completed = run_cli("--format", "json", *map(str, corpus_files.values()))
    return completed.returncode, json.loads(completed.stdout), completed.stderr


def test_every_corpus_file_gets_its_documented_row(corpus, corpus_files, json_run):
    _, document, _ = json_run
    by_file = {item["filename"]: item for item in document["results"]}
    assert len(by_file) == len(corpus)
    for case in corpus:
        item = by_file[str(corpus_files[case.name])]
        if case.is_verdict:
            assert item["label"] in ("real", "fake"), (case.name, item)
        else:
            assert item["error"]["code"] == case.code, (case.name, item)


def test_a_run_with_bad_files_exits_1_without_a_traceback(json_run):
    returncode, _, stderr = json_run
    assert returncode == 1
    assert "Traceback" not in stderr
    assert "inputs failed" in stderr


@pytest.mark.parametrize("output", ["table", "csv"])
def test_other_formats_survive_the_corpus(corpus, corpus_files, output):
    completed = run_cli("--format", output, *map(str, corpus_files.values()))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    if output == "csv":
        rows = list(csv.DictReader(io.StringIO(completed.stdout)))
        assert len(rows) == len(corpus)
        assert {row["error_code"] for row in rows} >= {case.code for case in corpus if case.code}
    else:
        assert len(completed.stdout.splitlines()) == len(corpus) + 1


def test_good_files_exit_0_and_a_missing_path_exits_1(tmp_path):
    for seed in range(3):
        (tmp_path / f"good {seed}.jpg").write_bytes(small_jpeg(seed))
    assert run_cli(str(tmp_path)).returncode == 0
    missing = run_cli(str(tmp_path), str(tmp_path / "nowhere.jpg"), "--format", "json")
    assert missing.returncode == 1
    codes = [item.get("error", {}).get("code") for item in json.loads(missing.stdout)["results"]]
    assert codes == [None, None, None, "not_found"]
