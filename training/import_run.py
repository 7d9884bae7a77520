"""Turn runs trained on another machine (`training.train_accelerated`) into MLflow runs and train-stage outputs.

The GPU machine has no MLflow, so its runs come back as files: the chosen
run's weights, and every run's `train.json` and `history.csv` (gathered in the
`summary.json` that `scripts/train_on_gpu.sh` writes). Each run becomes an
MLflow run with the same per-epoch metrics, parameters and tags a CPU run
gets; only the chosen one has weights, so only it gets a model. The chosen run
is also written as the train stage's outputs (`model.keras`, `history.csv`,
`train.json`), so `evaluate` and `export` continue exactly as after a CPU run.

The same trainer also runs on this machine's CPU (`--data-dir`), e.g. to
continue a GPU run at a low learning rate (`train.init_weights`); its output
folders import with `--run-dir`, and `--continues` records which MLflow run
the weights started from, in the run's tags and in its train.json (hence in
the model card).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import tempfile
from pathlib import Path

import keras
import mlflow

from training import tracking
from training.params import flatten, load_params
from training.plots import plot_learning_curves
from training.prepare_base_model import architecture, build_model


def summary_of_run_dirs(directories: list[Path]) -> dict:
    """The `summary.json` form of `train_accelerated` output folders on this machine; the winner by val accuracy."""
    runs = {
        directory.name: {
            "train": json.loads((directory / "train.json").read_text()),
            "history_csv": (directory / "history.csv").read_text(),
        }
        for directory in directories
    }
    return {"winner": max(runs, key=lambda name: runs[name]["train"]["val_accuracy"]), "runs": runs}


def continued_run(run_id: str) -> dict:
    """What a continued run started from: its MLflow id and how that run was trained."""
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="training/train.json")
    parent = json.loads(Path(path).read_text())
    keep = ("epochs_run", "best_epoch", "training_seconds", "hardware", "framework", "val_accuracy", "val_loss")
    return {"mlflow_run_id": run_id, **{key: parent[key] for key in keep if key in parent}}


def log_run(name: str, run: dict, params: dict, directory: Path) -> str:
    """One MLflow run from a trainer's train.json and history; returns its id."""
    train_info = run["train"]
    history_csv = directory / f"{name}_history.csv"
    history_csv.write_text(run["history_csv"])
    rows = list(csv.DictReader(io.StringIO(run["history_csv"])))
    logged_params = {**params, "train": train_info["train_config"]}
    device = "cpu" if train_info["hardware"].startswith("no GPU") else "gpu"
    with mlflow.start_run(run_name=f"{device}-{name}") as active:
        mlflow.log_params(flatten(logged_params))
        mlflow.set_tags(
            {
                "hardware": train_info["hardware"],
                "framework": train_info["framework"],
                "stage": "train_accelerated",
                "images_per_second": str(train_info["images_per_second"]),
                **(
                    {"continues_run": train_info["continued_from"]["mlflow_run_id"]}
                    if "continued_from" in train_info
                    else {}
                ),
            }
        )
        for row in rows:
            metrics = {key: float(value) for key, value in row.items() if key != "epoch" and value}
            mlflow.log_metrics(metrics, step=int(row["epoch"]))
        mlflow.log_metrics({"best_val_loss": train_info["val_loss"], "best_val_accuracy": train_info["val_accuracy"]})
        plot_learning_curves(history_csv, directory / f"{name}_learning_curves.png")
        mlflow.log_artifact(str(directory / f"{name}_learning_curves.png"), "plots")
        mlflow.log_artifact(str(history_csv), "training")
        return active.info.run_id


def log_earlier_rounds(summaries: list[dict], params: dict) -> list[str]:
    """Runs of earlier rounds, whose weights were not sent back: metrics and parameters only."""
    tracking.configure()
    run_ids = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_number, summary in enumerate(summaries, 1):
            for name, run in summary["runs"].items():
                if "train" in run:
                    run_ids.append(log_run(f"r{round_number}-{name}", run, params, Path(scratch)))
                    with mlflow.start_run(run_id=run_ids[-1]):
                        mlflow.set_tag("weights", "not kept (not the winner of its round)")
    return run_ids


def import_runs(
    summary: dict, weights: Path, output_dir: Path, params: dict, seed: int, continues: str | None = None
) -> dict:
    """Log every run in `summary`; write the winner's model and files to `output_dir`; return its train.json."""
    tracking.configure()
    if continues:
        parent = continued_run(continues)
        for run in summary["runs"].values():
            if "train" in run:
                run["train"] = {**run["train"], "continued_from": parent}
    winner = summary["winner"]
    if winner is None:
        raise ValueError("no run finished on the GPU machine: nothing to import")
    output_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(seed=seed, **{**architecture(params), "weights": None})
    model.load_weights(weights)
    model.save(output_dir / "model.keras")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        run_ids = {
            name: log_run(name, run, params, directory) for name, run in summary["runs"].items() if "train" in run
        }
        shutil.copyfile(directory / f"{winner}_history.csv", output_dir / "history.csv")
        shutil.copyfile(directory / f"{winner}_learning_curves.png", output_dir / "learning_curves.png")
    train_info = {
        **summary["runs"][winner]["train"],
        "mlflow_run_id": run_ids[winner],
        "compared_runs": {
            name: {"mlflow_run_id": run_ids[name], "val_accuracy": summary["runs"][name]["train"]["val_accuracy"]}
            for name in run_ids
        },
    }
    (output_dir / "train.json").write_text(json.dumps(train_info, indent=2))
    with mlflow.start_run(run_id=run_ids[winner]):
        mlflow.log_artifact(str(output_dir / "model.keras"), "keras_model")
        mlflow.log_artifact(str(output_dir / "train.json"), "training")
    return train_info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path, nargs="?", help="summary.json from scripts/train_on_gpu.sh")
    parser.add_argument("weights", type=Path, nargs="?", help="the winner's weights (the parts joined)")
    parser.add_argument(
        "--run-dir", type=Path, action="append", default=[], help="a train_accelerated output folder on this machine"
    )
    parser.add_argument("--continues", help="the MLflow run whose weights these runs started from (init_weights)")
    parser.add_argument(
        "--also", type=Path, action="append", default=[], help="summary.json of another round, logged without weights"
    )
    arguments = parser.parse_args()
    if bool(arguments.run_dir) == bool(arguments.summary and arguments.weights):
        parser.error("give either SUMMARY and WEIGHTS or --run-dir")
    if arguments.run_dir:
        summary = summary_of_run_dirs(arguments.run_dir)
        weights = next(d for d in arguments.run_dir if d.name == summary["winner"]) / "model.weights.h5"
    else:
        summary, weights = json.loads(arguments.summary.read_text()), arguments.weights
    params = load_params()
    log_earlier_rounds([json.loads(path.read_text()) for path in arguments.also], params)
    keras.mixed_precision.set_global_policy("float32")
    train_info = import_runs(
        summary, weights, Path(params["train"]["output_dir"]), params, params["base"]["seed"], arguments.continues
    )
    print(json.dumps(train_info, indent=2))


if __name__ == "__main__":
    main()
