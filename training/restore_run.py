"""Rebuild the shipped model's MLflow run in this machine's tracking store from what the repository keeps.

Why: an MLflow run lives in the tracking store of the machine that made it,
and the shipped model's was a git-ignored SQLite file on a development machine
that no longer exists. Everything the run held is in the repository, though:
its parameters (the card's `lineage.train_params`, the exported run's own, not
today's `params.yaml`), the per-epoch metrics (`history.csv`), the training
summary (`train.json`), the evaluation (`metrics/evaluate.json`,
`metrics/robustness.json`), the plots, the shipped file and its card, and,
after `dvc pull`, the float weights. This logs them as one run, tagged
`training_run_id` with the original run's id - the tag evaluate and export
look for when the training run itself is missing (training/run_log.py), so a
later re-evaluation on this machine logs into the same run - and registers the
shipped file as a version of the registered model, as export does.

Usage: dvc pull && python -m training.restore_run && mlflow ui --backend-store-uri sqlite:///mlflow.db
Running it again finds the rebuilt run and changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from training.import_run import log_history
from training.params import flatten, load_params

RESTORED_TAG = "restored_from_commit"


@dataclass(frozen=True)
class RunFiles:
    """Where the pipeline's committed outputs are: the `output_dir`s of params.yaml."""

    train_dir: Path
    metrics_dir: Path
    plots_dir: Path
    model_dir: Path

    @classmethod
    def from_params(cls, params: dict) -> RunFiles:
        return cls(
            train_dir=Path(params["train"]["output_dir"]),
            metrics_dir=Path(params["evaluate"]["output_dir"]),
            plots_dir=Path(params["evaluate"]["plots_dir"]),
            model_dir=Path(params["export"]["output_dir"]),
        )


def restore_run(files: RunFiles) -> tuple[str, bool]:
    """Log the shipped run into the configured store; (the run id logged into, whether anything was logged)."""
    from training import tracking
    from training.run_log import STAND_IN_TAG, _target_run_id

    card = json.loads((files.model_dir / "model.json").read_text())
    summary = json.loads((files.train_dir / "train.json").read_text())
    original = card["lineage"]["mlflow_run_id"]
    if not original or summary.get("mlflow_run_id") != original:
        raise ValueError(
            f"the card names MLflow run {original!r} but {files.train_dir / 'train.json'} names "
            f"{summary.get('mlflow_run_id')!r}: these files are not one run's"
        )
    mlflow = tracking.mlflow
    if mlflow is None:
        raise RuntimeError("MLflow is not installed: nothing to log to")
    tracking.configure()
    existing = _target_run_id(mlflow, original)
    if existing == original or (existing and mlflow.get_run(existing).data.tags.get(RESTORED_TAG)):
        return existing, False
    weights = files.train_dir / "model.weights.h5"
    weights_ok = weights.exists() and _md5(weights) == card["lineage"].get("weights_md5")
    tags = {
        STAND_IN_TAG: original,
        RESTORED_TAG: _git_head(),
        "stage": "train+evaluate+export (restored)",
        "hardware": summary["hardware"],
        "framework": summary["framework"],
        "model_version": card["version"],
    }
    name = f"{original[:8]} (restored from the repository)"
    with mlflow.start_run(run_id=existing, run_name=None if existing else name) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(flatten(card["lineage"]["train_params"]))
        log_history(mlflow, files.train_dir / "history.csv")
        mlflow.log_metrics({"best_val_loss": summary["val_loss"], "best_val_accuracy": summary["val_accuracy"]})
        mlflow.log_artifact(str(files.train_dir / "learning_curves.png"), "plots")
        for name in ("history.csv", "train.json", *(["model.weights.h5"] if weights_ok else [])):
            mlflow.log_artifact(str(files.train_dir / name), "training")
        run_id = run.info.run_id
    if not weights_ok:
        print(f"{weights} is missing or not the card's weights (run `dvc pull`): the run has no weights file")
    _log_evaluation_and_export(files, card)
    return run_id, True


def _log_evaluation_and_export(files: RunFiles, card: dict) -> None:
    """The evaluate and export stages' own logging, fed from their committed outputs."""
    from training.evaluation_report import log_to_mlflow
    from training.export import register

    report = json.loads((files.metrics_dir / "evaluate.json").read_text())
    robust = json.loads((files.metrics_dir / "robustness.json").read_text())
    log_to_mlflow(files.train_dir / "train.json", report, robust, files.plots_dir)
    export_summary = json.loads((files.metrics_dir / "export.json").read_text())
    if export_summary["version"] != card["version"]:
        raise ValueError(f"metrics/export.json is model {export_summary['version']}, the card {card['version']}")
    register(card["lineage"]["mlflow_run_id"], files.model_dir, export_summary["variants"][export_summary["chosen"]])


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # DVC's content hash: compared, not trusted for security
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git_head() -> str:
    """The commit whose files were restored (this module's checkout, whatever the working directory)."""
    command = ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"]
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    run_id, logged = restore_run(RunFiles.from_params(load_params()))
    print(f"{'rebuilt' if logged else 'already in this store:'} MLflow run {run_id}")


if __name__ == "__main__":
    main()
