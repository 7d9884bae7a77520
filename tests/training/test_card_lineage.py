"""The card's lineage: which commit made the model, and whether its inputs were committed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from training.model_card import lineage

LOCK = {
    "schema": "2.0",
    "stages": {
        "ingest": {
            "deps": [{"path": "../data.zip", "md5": "d" * 32}, {"path": "training/ingest.py", "md5": "a" * 32}],
            "outs": [{"path": "data/prepared", "md5": "p" * 32 + ".dir"}],
        },
        "train": {
            "deps": [{"path": "training/train.py", "md5": "b" * 32}],
            "outs": [{"path": "models/model.weights.h5", "md5": "w" * 32}],
        },
        "evaluate": {
            "deps": [{"path": "models/model.weights.h5", "md5": "w" * 32}],
            "outs": [{"path": "metrics/evaluate.json", "md5": "e" * 32}],
        },
        "export": {"deps": [{"path": "metrics/evaluate.json", "md5": "e" * 32}]},
    },
}


def _git(folder: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments], cwd=folder, check=True)


def test_outputs_written_by_the_stages_do_not_make_the_tree_dirty_but_code_does(tmp_path, monkeypatch) -> None:
    (tmp_path / "training").mkdir()
    (tmp_path / "metrics").mkdir()
    for name in ("training/ingest.py", "training/train.py", "metrics/evaluate.json", "params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text("v1\n")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(LOCK))
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "one")
    monkeypatch.chdir(tmp_path)

    # What evaluate writes before export runs, and export reads: an output, not code.
    (tmp_path / "metrics/evaluate.json").write_text("v2\n")
    record = lineage(Path("dvc.lock"), "run-1", None)
    assert record["git_dirty"] is False and len(record["git_commit"]) == 40
    assert record["data"] == {"source": "../data.zip", "source_md5": "d" * 32, "prepared_md5": "p" * 32 + ".dir"}
    assert record["weights_md5"] == "w" * 32

    (tmp_path / "training/train.py").write_text("v2\n")
    assert lineage(Path("dvc.lock"), "run-1", None)["git_dirty"] is True
    (tmp_path / "training/train.py").write_text("v1\n")
    (tmp_path / "params.yaml").write_text("v2\n")
    assert lineage(Path("dvc.lock"), "run-1", None)["git_dirty"] is True
