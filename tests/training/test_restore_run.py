"""A fresh clone can rebuild the shipped model's MLflow run from the committed files alone."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import mlflow
import pytest

import training.tracking
from training.params import flatten, load_params
from training.restore_run import RESTORED_TAG, RunFiles, restore_run
from training.run_log import STAND_IN_TAG, training_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch, request) -> mlflow.MlflowClient:
    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts under ./mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setattr(training.tracking, "EXPERIMENT", request.node.name)
    yield mlflow.MlflowClient()
    if mlflow.active_run():
        mlflow.end_run("FAILED")


@pytest.fixture
def shipped() -> RunFiles:
    files = RunFiles.from_params(load_params(ROOT / "params.yaml"))
    return RunFiles(*(ROOT / path for path in (files.train_dir, files.metrics_dir, files.plots_dir, files.model_dir)))


def _runs(store: mlflow.MlflowClient) -> list:
    experiment = store.get_experiment_by_name(training.tracking.EXPERIMENT)
    return store.search_runs([experiment.experiment_id]) if experiment else []


def test_the_shipped_run_is_rebuilt_from_committed_files(store, shipped):
    card = json.loads((shipped.model_dir / "model.json").read_text())
    original = card["lineage"]["mlflow_run_id"]
    run_id, logged = restore_run(shipped)
    assert logged and run_id != original
    run = store.get_run(run_id)
    assert run.data.tags[STAND_IN_TAG] == original
    assert run.data.tags[RESTORED_TAG]
    assert run.data.tags["model_version"] == card["version"]
    # The exported run's own parameters, as MLflow stores them (strings), not today's params.yaml.
    assert run.data.params == {key: str(value) for key, value in flatten(card["lineage"]["train_params"]).items()}
    with open(shipped.train_dir / "history.csv", newline="") as handle:
        epochs = list(csv.DictReader(handle))
    curve = store.get_metric_history(run_id, "val_loss")
    expected = [(int(row["epoch"]), float(row["val_loss"])) for row in epochs]
    assert [(point.step, point.value) for point in curve] == expected
    evaluation = json.loads((shipped.metrics_dir / "evaluate.json").read_text())
    assert run.data.metrics["test_accuracy"] == pytest.approx(evaluation["test"]["accuracy"])
    assert run.data.metrics["unsure_low"] == pytest.approx(evaluation["unsure_band"]["low"])
    assert run.data.metrics["real_photos_share_called_fake"] == pytest.approx(
        json.loads((shipped.metrics_dir / "robustness.json").read_text())["real_photos"]["share_called_fake"]
    )
    versions = store.search_model_versions(f"name = '{training.tracking.REGISTERED_MODEL}'")
    assert [version.run_id for version in versions] == [run_id]
    shipped_file = store.download_artifacts(run_id, "tflite/model.tflite", ".")
    assert Path(shipped_file).read_bytes() == (shipped.model_dir / "model.tflite").read_bytes()


def test_restoring_twice_changes_nothing_and_evaluate_then_logs_into_it(store, shipped):
    first, _ = restore_run(shipped)
    again, logged = restore_run(shipped)
    assert (again, logged) == (first, False)
    assert len(_runs(store)) == 1
    original = json.loads((shipped.model_dir / "model.json").read_text())["lineage"]["mlflow_run_id"]
    with training_run(original) as logged_to:  # what evaluate and export do on this machine later
        mlflow.log_metric("threshold", 0.5)
    assert logged_to == first


@pytest.mark.parametrize("cards_weights", [True, False])
def test_weights_are_logged_only_when_they_are_the_cards(store, shipped, tmp_path, capsys, cards_weights):
    train_dir, model_dir = tmp_path / "models", tmp_path / "model"
    shutil.copytree(shipped.train_dir, train_dir, ignore=shutil.ignore_patterns("*.h5"))
    shutil.copytree(shipped.model_dir, model_dir)
    weights = b"float weights of some run"
    (train_dir / "model.weights.h5").write_bytes(weights)
    card = json.loads((model_dir / "model.json").read_text())
    card["lineage"]["weights_md5"] = hashlib.md5(
        weights if cards_weights else b"other", usedforsecurity=False
    ).hexdigest()
    (model_dir / "model.json").write_text(json.dumps(card))
    run_id, _ = restore_run(RunFiles(train_dir, shipped.metrics_dir, shipped.plots_dir, model_dir))
    logged = [item.path for item in store.list_artifacts(run_id, "training")]
    assert ("training/model.weights.h5" in logged) is cards_weights
    assert ("not the card's weights" in capsys.readouterr().out) is not cards_weights


def test_files_of_two_different_runs_are_refused(store, shipped, tmp_path):
    train_dir = tmp_path / "models"
    shutil.copytree(shipped.train_dir, train_dir, ignore=shutil.ignore_patterns("*.h5"))
    summary = json.loads((train_dir / "train.json").read_text())
    (train_dir / "train.json").write_text(json.dumps({**summary, "mlflow_run_id": "0" * 32}))
    with pytest.raises(ValueError, match="not one run's"):
        restore_run(RunFiles(train_dir, shipped.metrics_dir, shipped.plots_dir, shipped.model_dir))
    assert _runs(store) == []
