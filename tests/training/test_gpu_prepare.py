"""scripts/gpu_prepare.sh: the checkout fits the device machine's 64 MiB, and git's index comes back whole.

The device tool sends tracked files and untracked files git does not ignore,
plus carried paths. The repository's own DVC remote is tracked and larger than
that limit, and the shipped model.tflite takes a quarter of it, so the script
takes both out of the index for the device runs and puts them back afterwards;
a mistake there would either block every GPU run or leave a commit that
deletes the stored weights or the shipped model. Run on a throwaway repository
with the same layout (the pack and wheels steps need the dataset and PyPI and
are not run here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def git(root: Path, *arguments: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *arguments]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


def sized_file(path: Path, mebibytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.truncate(mebibytes * MIB)  # sparse: the size is what counts


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A committed repository with a 40 MiB tracked store, a 10 MiB model, code, and a 30 MiB pack to carry."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "gpu_prepare.sh", root / "scripts")
    (root / ".gitignore").write_text("/.gpu/\n/.whl/\n")
    (root / "train.py").write_text("print('train')\n")
    sized_file(root / "dvc-store" / "files" / "md5" / "ab" / "cdef", 40)
    (root / "dvc-store" / "files" / "md5" / "12" / "3456").parent.mkdir(parents=True)
    (root / "dvc-store" / "files" / "md5" / "12" / "3456").write_text("small object")
    sized_file(root / "function_app" / "model" / "model.tflite", 10)
    (root / "function_app" / "model" / "model.json").write_text("{}")  # travels: only the weights stay
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "layout")
    sized_file(root / ".gpu" / "pack.npz", 30)
    return root


def script(root: Path, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/gpu_prepare.sh", command], cwd=root, capture_output=True, text=True, env=os.environ
    )


def test_the_store_blocks_the_trip_until_hidden_and_comes_back_whole(checkout: Path):
    tracked_before = git(checkout, "ls-files")

    too_large = script(checkout, "size")
    assert too_large.returncode == 1 and "too large" in too_large.stderr
    assert "would travel: 80.0 MiB" in too_large.stdout

    hidden = script(checkout, "hide")
    assert hidden.returncode == 0, hidden.stderr
    assert "would travel: 30.0 MiB" in hidden.stdout
    assert git(checkout, "ls-files", "dvc-store", "function_app/model/model.tflite") == ""
    assert git(checkout, "ls-files", "function_app") == "function_app/model/model.json\n"
    # Out of the index and ignored: nothing of it travels, and the files are still on disk.
    assert "??" not in git(checkout, "status", "--porcelain")
    assert (checkout / "dvc-store" / "files" / "md5" / "ab" / "cdef").stat().st_size == 40 * MIB
    assert (checkout / "function_app" / "model" / "model.tflite").stat().st_size == 10 * MIB

    restored = script(checkout, "restore")
    assert restored.returncode == 0, restored.stderr
    assert git(checkout, "status", "--porcelain") == ""
    assert git(checkout, "ls-files") == tracked_before
    excluded = (checkout / ".git" / "info" / "exclude").read_text().splitlines()
    assert "/dvc-store" not in excluded and "/function_app/model/model.tflite" not in excluded


def test_hiding_twice_keeps_one_exclude_line_and_restore_is_safe_when_nothing_was_hidden(checkout: Path):
    assert script(checkout, "restore").returncode == 0
    assert git(checkout, "status", "--porcelain") == ""
    for _ in range(2):
        assert script(checkout, "hide").returncode == 0
    excluded = (checkout / ".git" / "info" / "exclude").read_text().splitlines()
    assert excluded.count("/dvc-store") == 1 and excluded.count("/function_app/model/model.tflite") == 1
    assert script(checkout, "restore").returncode == 0
    assert git(checkout, "status", "--porcelain") == ""
