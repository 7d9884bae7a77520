"""Evaluate and export log into the training run where the store has it, else into one stand-in run."""

from __future__ import annotations

import uuid

import mlflow
import pytest

import training.tracking
from training.run_log import STAND_IN_TAG, training_run


@pytest.fixture
def store(tmp_path, monkeypatch, request) -> mlflow.MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(training.tracking, "EXPERIMENT", request.node.name)
    yield mlflow.MlflowClient()
    if mlflow.active_run():
        mlflow.end_run("FAILED")


def test_the_training_run_is_reopened_where_the_store_has_it(store):
    training.tracking.configure()
    with mlflow.start_run() as run:
        trained = run.info.run_id
    with training_run(trained) as logged_to:
        mlflow.log_metric("threshold", 0.5)
    assert logged_to == trained
    assert store.get_run(trained).data.metrics["threshold"] == 0.5
    assert len(store.search_runs([store.get_experiment_by_name(training.tracking.EXPERIMENT).experiment_id])) == 1


def test_a_training_run_from_another_machine_gets_one_stand_in(store, capsys):
    """A fresh clone has the weights (dvc pull) but not the store that trained them: evaluate must not fail."""
    missing = uuid.uuid4().hex  # the id of a run that only another machine's store holds
    with training_run(missing) as evaluation:
        mlflow.log_metric("threshold", 0.5)
    with training_run(missing) as export:
        mlflow.log_metric("tflite_accuracy", 0.96)
    assert "not in" in capsys.readouterr().out
    assert evaluation == export != missing
    logged = store.get_run(evaluation)
    assert logged.data.tags[STAND_IN_TAG] == missing
    assert logged.data.metrics == {"threshold": 0.5, "tflite_accuracy": 0.96}
    assert logged.info.status == "FINISHED"
