"""`imageauth predict`: files, folders and globs; table, JSON and CSV; the exit status."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imageauth.cli import main
from imageauth.predict import predict_bytes
from imageauth.settings import Settings


@pytest.fixture
def folder(tmp_path: Path, images: dict[str, bytes]) -> Path:
    """The sample images in a small tree: valid ones at the top, the two bad files in `bad/`."""
    (tmp_path / "bad").mkdir()
    for name, data in images.items():
        target = tmp_path / "bad" / name if name in ("corrupt.jpg", "notes.txt") else tmp_path / name
        target.write_bytes(data)
    return tmp_path


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["predict", "--no-progress", *argv], out=out)
    return status, out.getvalue()


def test_json_matches_the_core_and_the_api_shape(folder, valid_names):
    status, output = run(*(str(folder / name) for name in valid_names), "--format", "json")
    assert status == 0
    document = json.loads(output)
    assert document["results"] == [
        predict_bytes((folder / name).read_bytes(), str(folder / name), Settings()) for name in valid_names
    ]
    assert document["model_version"]


def test_a_folder_is_searched_recursively_and_a_bad_file_fails_the_run(folder, valid_names):
    status, output = run(str(folder), "--format", "json")
    assert status == 1
    results = {Path(item["filename"]).name: item for item in json.loads(output)["results"]}
    # notes.txt is not an image name, so a folder search skips it; corrupt.jpg is tried and fails.
    assert set(results) == {*valid_names, "corrupt.jpg"}
    assert results["corrupt.jpg"]["error"]["code"] == "undecodable_image"


def test_globs_missing_paths_and_duplicates(folder):
    status, output = run(
        str(folder / "*.png"), str(folder / "cifake.png"), str(folder / "nothing.jpg"), "--format", "json"
    )
    assert status == 1
    results = json.loads(output)["results"]
    assert [Path(item["filename"]).name for item in results] == ["cifake.png", "nothing.jpg"]
    assert results[1]["error"]["code"] == "not_found"


def test_csv_and_table(folder):
    paths = [str(folder / "photo.jpg"), str(folder / "bad" / "notes.txt")]
    status, output = run(*paths, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(output)))
    assert status == 1 and [row["filename"] for row in rows] == paths
    expected = predict_bytes((folder / "photo.jpg").read_bytes(), paths[0], Settings())
    assert float(rows[0]["probability_fake"]) == expected["probability_fake"]
    assert rows[0]["label"] == expected["label"] and rows[0]["error_code"] == ""
    assert rows[0]["verdict"] == expected["verdict"] and rows[0]["note"] == (expected["note"] or "")
    assert rows[1]["error_code"] == "unsupported_media_type" and rows[1]["label"] == ""
    status, table = run(*paths)
    lines = table.splitlines()
    assert lines[0].split() == ["FILE", "VERDICT", "LABEL", "P(FAKE)", "SIZE", "EVIDENCE"]
    assert expected["label"] in lines[1] and f"{expected['width']}x{expected['height']}" in lines[1]
    assert "unsupported_media_type" in lines[2]


def test_a_file_over_the_byte_limit_is_not_read(folder, monkeypatch):
    monkeypatch.setenv("IMAGEAUTH_MAX_BYTES", "100")
    status, output = run(str(folder / "photo.jpg"), "--format", "json")
    assert status == 1
    assert json.loads(output)["results"][0]["error"]["code"] == "file_too_large"


def test_the_installed_command_and_its_progress_bar(folder):
    command = [
        str(Path(sys.executable).with_name("imageauth")),
        "predict",
        str(folder / "photo.jpg"),
        "--format",
        "json",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["results"][0]["filename"] == str(folder / "photo.jpg")
    # stderr is not a terminal here, so tqdm stays quiet and stdout stays pure JSON.
    assert "predicting" not in finished.stderr
