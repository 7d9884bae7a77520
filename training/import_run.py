"""Log a train-stage output folder made without MLflow as an MLflow run, and record the run's id in it.

`python -m training.train` on a machine without MLflow (a borrowed GPU:
`scripts/train_on_gpu.sh`), or with `IMAGEAUTH_MLFLOW=off`, writes the same
outputs as a tracked run, with `"mlflow_run_id": null` in `train.json`. Back
on a machine with MLflow, this logs what the stage would have logged itself:
the parameters, the per-epoch metrics with the epoch as the step, the tags,
the best epoch's numbers and the files. It then writes the new run's id into
`train.json`, so evaluate and export record it in the model card.

Usage: python -m training.import_run [FOLDER]   (default: params.yaml's train.output_dir)
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from training import tracking
from training.params import flatten, load_params


def import_run(folder: Path, params: dict) -> str:
    """Log `folder` (model.weights.h5, history.csv, train.json) with `params`; return the new MLflow run id."""
    train_json = folder / "train.json"
    summary = json.loads(train_json.read_text())
    if summary.get("mlflow_run_id"):
        raise ValueError(f"{train_json} already names MLflow run {summary['mlflow_run_id']}: not logging it twice")
    mlflow = tracking.start_run()
    if mlflow is None:
        raise RuntimeError("MLflow is not installed or IMAGEAUTH_MLFLOW is off: nothing to log to")
    try:
        run_id = mlflow.active_run().info.run_id
        mlflow.log_params(flatten(params))
        tags = {key: summary[key] for key in ("hardware", "framework")}
        mlflow.set_tags({**tags, "stage": "train", "imported_from": str(folder)})
        log_history(mlflow, folder / "history.csv")
        summary["mlflow_run_id"] = run_id
        train_json.write_text(json.dumps(summary, indent=2))
        # The best epoch's numbers and the files, as the stage logs them; this ends the run.
        tracking.finish_train_run(folder, summary)
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    return run_id


def log_history(mlflow, history_csv: Path) -> None:
    """A Keras CSVLogger file's per-epoch metrics, with the epoch as the step (as the train stage logs them)."""
    with open(history_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            values = {key: float(value) for key, value in row.items() if key != "epoch" and value}
            mlflow.log_metrics(values, step=int(row["epoch"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="the train stage's outputs (default: train.output_dir)")
    arguments = parser.parse_args()
    params = load_params()
    folder = arguments.folder or Path(params["train"]["output_dir"])
    run_id = import_run(folder, params)
    print(f"logged {folder} as MLflow run {run_id}")


if __name__ == "__main__":
    main()
