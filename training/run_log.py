"""The MLflow run that evaluate and export log into: the training run, or a stand-in for it.

Why a stand-in: the training run lives in the tracking store of the machine
that trained the weights. A fresh clone that `dvc pull`s those weights and
re-runs evaluate or export (a changed threshold rule, say) has the weights
but not that store, and reopening the run by id fails there. So where the
training run is missing, both stages log into one run of their own in the
same experiment, tagged with the training run's id, and say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

STAND_IN_TAG = "training_run_id"


def _target_run_id(mlflow, training_run_id: str) -> str | None:
    """The training run's id where this store has it, else an earlier stand-in's, else None."""
    client = mlflow.MlflowClient()
    try:
        client.get_run(training_run_id)
        return training_run_id
    except mlflow.exceptions.MlflowException:
        pass
    stand_ins = mlflow.search_runs(filter_string=f"tags.{STAND_IN_TAG} = '{training_run_id}'", output_format="list")
    return stand_ins[0].info.run_id if stand_ins else None


@contextmanager
def training_run(training_run_id: str) -> Iterator[str]:
    """An active MLflow run for the training run's evaluation and export; yields the id logged into."""
    from training import tracking

    mlflow = tracking.mlflow
    tracking.configure()
    target = _target_run_id(mlflow, training_run_id)
    if target is None:
        print(
            f"MLflow run {training_run_id} (the training run) is not in {mlflow.get_tracking_uri()}: "
            "logging evaluate and export to a stand-in run tagged with its id",
            flush=True,
        )
        tags = {STAND_IN_TAG: training_run_id, "stage": "evaluate+export"}
        run_arguments = {"run_name": f"evaluation of {training_run_id[:8]}", "tags": tags}
    else:
        run_arguments = {"run_id": target}
    with mlflow.start_run(**run_arguments) as run:
        yield run.info.run_id
