"""MLflow set-up shared by the stages: local store by default, DagsHub when configured.

Tracking URI precedence: `MLFLOW_TRACKING_URI` if set; else DagsHub when both
`DAGSHUB_REPO_OWNER` and `DAGSHUB_REPO_NAME` are set (with `DAGSHUB_USER_TOKEN`
for authentication); else `sqlite:///mlflow.db` in the working directory,
which git ignores and which supports the Model Registry.
"""

from __future__ import annotations

import os

try:
    import mlflow
except ImportError:  # a borrowed GPU machine: the train stage writes a run folder instead
    mlflow = None

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = os.environ.get("IMAGEAUTH_EXPERIMENT", "imageauth")
REGISTERED_MODEL = "imageauth-detector"


def configure() -> str:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        owner, name = os.environ.get("DAGSHUB_REPO_OWNER"), os.environ.get("DAGSHUB_REPO_NAME")
        if owner and name:
            import dagshub

            dagshub.init(repo_owner=owner, repo_name=name, mlflow=True)
        else:
            mlflow.set_tracking_uri(DEFAULT_TRACKING_URI)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow.get_tracking_uri()


def start_run(run_id: str | None = None):
    """Start (or, for a resumed run, reopen) the train stage's MLflow run; the `mlflow` module, or None.

    None where MLflow is not installed (a borrowed GPU machine) or
    `IMAGEAUTH_MLFLOW=off`: the outputs folder is then the run record, and
    `training.import_run` logs it later.
    """
    if mlflow is None or os.environ.get("IMAGEAUTH_MLFLOW", "on").lower() in ("off", "0", "false"):
        return None
    configure()
    mlflow.start_run(run_id=run_id)
    return mlflow


def finish_train_run(output_dir, summary: dict) -> None:
    """The best epoch's numbers and the run's files, at the end of training."""
    mlflow.log_metrics({"best_val_loss": summary["val_loss"], "best_val_accuracy": summary["val_accuracy"]})
    mlflow.log_artifact(str(output_dir / "learning_curves.png"), "plots")
    for name in ("history.csv", "train.json", "model.weights.h5"):
        mlflow.log_artifact(str(output_dir / name), "training")
    mlflow.end_run()
