"""`imageauth predict`: files, folders and globs; table, JSON and CSV; the exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

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


def installed_command(*argv: str) -> list[str]:
    """The `imageauth` console script of this environment, as a user runs it."""
    return [str(Path(sys.executable).with_name("imageauth")), "predict", *argv]


def test_the_installed_command_and_its_progress_bar(folder):
    command = installed_command(str(folder / "photo.jpg"), "--format", "json")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["results"][0]["filename"] == str(folder / "photo.jpg")
    # stderr is not a terminal here, so tqdm stays quiet and stdout stays pure JSON; LiteRT's
    # native "INFO: Created TensorFlow Lite XNNPACK delegate" line is kept off it too.
    assert finished.stderr == ""


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(tmp_path, images):
    names = ["=HYPERLINK(1).jpg", "+sum.jpg", "@cmd.jpg", "-minus.jpg", "plain.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(images["photo.jpg"])
    status, output = run("--format", "csv", *(str(tmp_path / name) for name in names))
    assert status == 0
    cells = [row["filename"] for row in csv.DictReader(io.StringIO(output))]
    assert cells == [str(tmp_path / name) for name in names]  # absolute paths start with "/": untouched
    # Relative names, as a user in that folder types them.
    relative = subprocess.run(
        [sys.executable, "-m", "imageauth.cli", "predict", "--no-progress", "--format", "csv", "--", *names],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert relative.returncode == 0, relative.stderr
    cells = [row["filename"] for row in csv.DictReader(io.StringIO(relative.stdout))]
    assert cells == ["'=HYPERLINK(1).jpg", "'+sum.jpg", "'@cmd.jpg", "'-minus.jpg", "plain.jpg"]


def test_each_file_is_scored_once_however_it_is_reached(tmp_path, images):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "x.jpg").write_bytes(images["photo.jpg"])
    (tree / "sub" / "loop").symlink_to("..")  # a symlink loop: ** would walk it again and again
    status, output = run(str(tree / "**" / "*.jpg"), str(tree), str(tree / "sub" / ".." / "x.jpg"), "--format", "json")
    assert status == 0
    assert [item["filename"] for item in json.loads(output)["results"]] == [str(tree / "x.jpg")]


def test_table_names_cannot_break_rows_or_drive_the_terminal(tmp_path, images):
    name = tmp_path / "two\nlines \x1b[31mred.jpg"
    name.write_bytes(images["photo.jpg"])
    status, output = run(str(name))
    assert status == 0
    assert "\x1b" not in output and output.count("\n") == 2  # the header and one row
    assert "two\\x0alines \\x1b[31mred.jpg" in output


def test_a_mistyped_model_folder_is_a_usage_error(tmp_path, images, capsys):
    (tmp_path / "a.jpg").write_bytes(images["photo.jpg"])
    status, output = run(str(tmp_path / "a.jpg"), "--model-dir", str(tmp_path / "nowhere"))
    assert (status, output) == (2, "")
    assert capsys.readouterr().err.count("\n") == 1  # one line, no traceback


def test_a_model_that_does_not_load_is_one_line_and_exit_1(tmp_path, images, capsys, monkeypatch):
    # Not a usage error: the installation's model (here IMAGEAUTH_MODEL_DIR's) is broken.
    broken = tmp_path / "model"
    broken.mkdir()
    shutil.copy(Path(__file__).parents[2] / "function_app" / "model" / "model.json", broken)
    (broken / "model.tflite").write_bytes(b"not a flatbuffer" * 100)
    monkeypatch.setenv("IMAGEAUTH_MODEL_DIR", str(broken))
    (tmp_path / "a.jpg").write_bytes(images["photo.jpg"])
    status, output = run(str(tmp_path / "a.jpg"))
    assert (status, output) == (1, "")
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot be loaded" in error and str(broken) in error


def test_a_closed_stderr_does_not_stop_the_cli(folder):
    # With fd 2 closed Python has no sys.stderr at all; the output must still be written.
    command = installed_command(str(folder / "photo.jpg"), "--format", "json")
    finished = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *command], capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0
    assert json.loads(finished.stdout)["results"][0]["filename"] == str(folder / "photo.jpg")


def test_standard_input_and_pipes_are_read(tmp_path, images):
    photo = images["photo.jpg"]
    command = [sys.executable, "-m", "imageauth.cli", "predict", "--no-progress", "--format", "json"]
    piped = subprocess.run([*command, "-"], input=photo, capture_output=True, check=False)
    dev_stdin = subprocess.run([*command, "/dev/stdin"], input=photo, capture_output=True, check=False)
    assert (piped.returncode, dev_stdin.returncode) == (0, 0), piped.stderr + dev_stdin.stderr
    [from_dash] = json.loads(piped.stdout)["results"]
    [from_device] = json.loads(dev_stdin.stdout)["results"]
    expected = predict_bytes(photo, "<stdin>", Settings())
    assert from_dash == expected
    assert from_device["sha256"] == expected["sha256"] and from_device["filename"] == "/dev/stdin"


class InterruptedRead:
    """Standard input whose read is interrupted by Ctrl-C, as when a user stops a slow run."""

    def read(self, size: int = -1) -> bytes:
        raise KeyboardInterrupt


def test_ctrl_c_writes_the_results_so_far_and_exits_130(tmp_path, images, monkeypatch, capsys):
    (tmp_path / "a.jpg").write_bytes(images["photo.jpg"])
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=InterruptedRead()))
    status, output = run(str(tmp_path / "a.jpg"), "-", str(tmp_path / "a.jpg"), "--format", "json")
    assert status == 130
    [item] = json.loads(output)["results"]  # what finished before the interrupt
    assert item["filename"] == str(tmp_path / "a.jpg") and item["label"] in ("real", "fake")
    assert "interrupted after 1 of 2 inputs" in capsys.readouterr().err


def test_a_folder_that_cannot_be_listed_is_an_error_row(tmp_path, images):
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.jpg").write_bytes(images["photo.jpg"])
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "b.jpg").write_bytes(images["photo.jpg"])
    locked.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop its read-any-file capability")
        prefix = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"]
    command = [*prefix, sys.executable, "-m", "imageauth.cli", "predict", "--no-progress", "--format", "json"]
    try:
        finished = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, check=False)
    finally:
        locked.chmod(0o755)
    assert finished.returncode == 1, finished.stderr
    results = {item["filename"]: item for item in json.loads(finished.stdout)["results"]}
    assert results[str(tmp_path / "ok" / "a.jpg")]["label"] in ("real", "fake")
    assert results[str(locked)]["error"]["code"] == "unreadable_file"
