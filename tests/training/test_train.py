"""The train stage's trainer (`training.train.train`) on a few tiny images, under the TensorFlow backend.

What is guarded here does not depend on the backend: a killed run continues
its own schedule, data order and MLflow run; changed parameters start over;
the outputs are what evaluate, export and `training.import_run` read; the
initial weights come from `init_from`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from small_models import MODEL_CONFIG, TRAIN_CONFIG, tiny_data

import training.train as trainer
from training.prepare_base_model import build_model
from training.resume import finished_epochs
from training.schedule import learning_rate
from training.train import train

SEED = 5
STEPS_PER_EPOCH = 2  # 32 training images, batches of 16


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """prepare_base_model's output for the small architecture."""
    path = tmp_path_factory.mktemp("base") / "base_model.weights.h5"
    build_model(seed=SEED, **MODEL_CONFIG).save_weights(path)
    return path


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One SQLite store for the module: creating its schema costs seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def tracking_store(tracking_uri: str, request, monkeypatch) -> str:
    """MLflow on for this test, in an experiment of its own; the experiment's name."""
    import training.tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("IMAGEAUTH_MLFLOW", "on")
    monkeypatch.setattr(training.tracking, "EXPERIMENT", request.node.name)
    yield request.node.name
    if mlflow.active_run():
        mlflow.end_run("FAILED")


@pytest.fixture
def served_batches(monkeypatch) -> list[tuple[int, int]]:
    """Every (epoch, batch index) the trainer asks its data loader for."""
    served: list[tuple[int, int]] = []

    class RecordingBatches(trainer.Batches):
        def __getitem__(self, index):
            served.append((self.epoch, index))
            return super().__getitem__(index)

    monkeypatch.setattr(trainer, "Batches", RecordingBatches)
    return served


def kill_after_epoch(monkeypatch, epoch_index: int, callback: type = keras.callbacks.BackupAndRestore) -> None:
    """End the process (as far as the trainer can tell) in `callback`'s end of epoch `epoch_index`.

    The default is the trainer's last callback, so the epoch's history row,
    MLflow metrics, checkpoint and backup are all written when this raises,
    as when a session ends between two epochs.
    """
    finish_epoch = callback.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        finish_epoch(self, epoch, logs)
        if epoch == epoch_index:
            raise KeyboardInterrupt

    monkeypatch.setattr(callback, "on_epoch_end", on_epoch_end)


def run(base_model: Path, root: Path, config: dict | None = None, data: dict | None = None) -> dict:
    return train(
        data=data or tiny_data(),
        base_model_path=base_model,
        output_dir=root / "models",
        state_dir=root / "state",
        model_config=MODEL_CONFIG,
        config={**TRAIN_CONFIG, **(config or {})},
        seed=SEED,
    )


def history_epochs(path: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:]]


def history_values(path: Path) -> np.ndarray:
    """Loss, accuracy and validation numbers per epoch (the learning-rate column aside)."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = ["loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc"]
    return np.array([[float(row[column]) for column in columns] for row in rows])


@pytest.fixture(scope="module")
def offline_run(base_model, tmp_path_factory) -> Path:
    """An uninterrupted run of TRAIN_CONFIG with MLflow off, as on a borrowed GPU machine."""
    root = tmp_path_factory.mktemp("offline")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMAGEAUTH_MLFLOW", "off")
        run(base_model, root)
    return root


def test_a_killed_run_resumes_its_schedule_data_order_and_mlflow_run(
    base_model, offline_run, tmp_path, tracking_store, served_batches, monkeypatch
):
    uninterrupted = offline_run / "models/history.csv"
    with monkeypatch.context() as patch:
        kill_after_epoch(patch, 0)
        with pytest.raises(KeyboardInterrupt):
            run(base_model, tmp_path)
    state = json.loads((tmp_path / "state/state.json").read_text())
    killed_run = state["mlflow_run_id"]
    assert history_epochs(tmp_path / "state/history.csv") == [0]
    assert not (tmp_path / "models/train.json").exists()
    last_data_epoch = max(epoch for epoch, _ in served_batches)
    mlflow.end_run("KILLED")  # what the process's death does to the active run
    served_batches.clear()

    summary = run(base_model, tmp_path)

    # The data order continues (a restarted one would serve its first epoch's batches again)...
    assert max(epoch for epoch, _ in served_batches) == last_data_epoch + 1
    assert summary["epochs_run"] == 2 and summary["mlflow_run_id"] == killed_run
    assert history_epochs(tmp_path / "models/history.csv") == [0, 1]
    # ...and the whole run is the uninterrupted run: same weights, schedule and batches, same numbers.
    np.testing.assert_allclose(
        history_values(tmp_path / "models/history.csv"), history_values(uninterrupted), rtol=1e-3
    )
    client = mlflow.MlflowClient()
    assert [
        run.info.run_id for run in client.search_runs(client.get_experiment_by_name(tracking_store).experiment_id)
    ] == [killed_run]
    assert [point.step for point in client.get_metric_history(killed_run, "val_loss")] == [0, 1]
    # The learning rate at the end of each epoch is the one planned schedule's, not a restarted one's.
    schedule = learning_rate("cosine", 0.001, 2, STEPS_PER_EPOCH, TRAIN_CONFIG["warmup_epochs"])
    planned = [float(schedule((epoch + 1) * STEPS_PER_EPOCH)) for epoch in range(2)]
    logged = [point.value for point in client.get_metric_history(killed_run, "learning_rate")]
    np.testing.assert_allclose(logged, planned, rtol=1e-5)
    assert client.get_run(killed_run).data.metrics["best_val_loss"] == pytest.approx(summary["val_loss"])
    assert not (tmp_path / "state").exists()  # a finished run leaves no state behind


def test_an_epoch_the_backup_counts_as_finished_is_already_in_mlflow(base_model, tmp_path, tracking_store, monkeypatch):
    """Killed just after the backup of epoch 0 was written: a restart will skip that epoch, so its metrics
    must already be logged; and the run is left KILLED, not active, whatever ended it."""
    with monkeypatch.context() as patch:
        kill_after_epoch(patch, 0, keras.callbacks.BackupAndRestore)
        with pytest.raises(KeyboardInterrupt):
            run(base_model, tmp_path)
    killed_run = json.loads((tmp_path / "state/state.json").read_text())["mlflow_run_id"]
    assert finished_epochs(tmp_path / "state/backup") == 1
    # The backup is the epoch's last write: the best epoch so far is already checkpointed.
    assert (tmp_path / "state/best.weights.h5").exists()
    assert mlflow.active_run() is None
    client = mlflow.MlflowClient()
    assert client.get_run(killed_run).info.status == "KILLED"
    assert [point.step for point in client.get_metric_history(killed_run, "val_loss")] == [0]


def test_a_kill_before_the_backup_reruns_the_epoch_with_the_same_result(
    base_model, offline_run, tmp_path, tracking_store, monkeypatch
):
    """Killed after epoch 1's log row, MLflow metrics and checkpoint but before its backup: the
    restored run trains epoch 1 again from epoch 0's backup (averaged weights included) and ends
    where an uninterrupted run ends, with each epoch listed once in the log and in MLflow."""
    with monkeypatch.context() as patch:
        kill_after_epoch(patch, 1, trainer.ThroughputLogger)
        with pytest.raises(KeyboardInterrupt):
            run(base_model, tmp_path)
    assert history_epochs(tmp_path / "state/history.csv") == [0, 1]
    assert finished_epochs(tmp_path / "state/backup") == 1
    killed_run = json.loads((tmp_path / "state/state.json").read_text())["mlflow_run_id"]
    client = mlflow.MlflowClient()
    assert [point.step for point in client.get_metric_history(killed_run, "val_loss")] == [0, 1]
    mlflow.end_run("KILLED")

    summary = run(base_model, tmp_path)

    assert summary["mlflow_run_id"] == killed_run
    for key in ("val_loss", "loss", "learning_rate"):
        assert [point.step for point in client.get_metric_history(killed_run, key)] == [0, 1], key
    assert history_epochs(tmp_path / "models/history.csv") == [0, 1]
    np.testing.assert_allclose(
        history_values(tmp_path / "models/history.csv"), history_values(offline_run / "models/history.csv"), rtol=1e-3
    )
    resumed, uninterrupted = (build_model(seed=0, **MODEL_CONFIG) for _ in range(2))
    resumed.load_weights(tmp_path / "models/model.weights.h5")
    uninterrupted.load_weights(offline_run / "models/model.weights.h5")
    for mine, theirs in zip(resumed.get_weights(), uninterrupted.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-3, atol=1e-5)


def test_the_loss_is_computed_from_the_logit(base_model, tmp_path, monkeypatch):
    """A saturated sigmoid still learns: the loss and its gradient come from the logit, not from a
    clipped probability (which gives no gradient on JAX and PyTorch)."""
    model = build_model(seed=0, **MODEL_CONFIG)
    model.load_weights(base_model)
    output = model.get_layer("probability_fake")
    output.bias.assign(np.array([30.0], np.float32))  # P(fake) rounds to 1 for every image
    view = trainer.logit_view(model)
    images, labels = tiny_data()["train"]
    images = images.astype(np.float32)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.sigmoid(view(images))), model.predict(images, verbose=0), rtol=1e-5
    )
    trainer.compile_model(view, {**TRAIN_CONFIG, "ema_momentum": 0}, STEPS_PER_EPOCH)
    loss = view.evaluate(images, labels.astype(np.float32), verbose=0)[0]
    # Real images (label 0) 30 logits away from their class: about 30 * 0.95 / 2 per image on average.
    assert loss > 10
    view.fit(images, labels.astype(np.float32), epochs=1, batch_size=16, verbose=0)
    assert float(keras.ops.convert_to_numpy(output.bias)[0]) < 30.0 - 1e-4


def test_a_time_budget_cut_is_recorded_as_incomplete(base_model, tmp_path, monkeypatch):
    """Early stopping is part of the recipe; a budget that stops the plan early is not, and train.json says so."""
    monkeypatch.setenv("IMAGEAUTH_MLFLOW", "off")
    summary = run(base_model, tmp_path, {"time_budget_minutes": 1e-6})
    assert summary["epochs_run"] == 1 and summary["complete"] is False
    assert json.loads((tmp_path / "models/train.json").read_text())["complete"] is False


def test_changed_parameters_discard_the_interrupted_state(base_model, tmp_path, tracking_store, monkeypatch, capsys):
    config = {"epochs": 1}
    with monkeypatch.context() as patch:
        kill_after_epoch(patch, 0)
        with pytest.raises(KeyboardInterrupt):
            run(base_model, tmp_path, config)
    killed_run = json.loads((tmp_path / "state/state.json").read_text())["mlflow_run_id"]
    mlflow.end_run("KILLED")

    summary = run(base_model, tmp_path, {**config, "learning_rate": 0.002})

    assert "discarding the old state" in capsys.readouterr().out
    assert history_epochs(tmp_path / "models/history.csv") == [0]
    assert summary["mlflow_run_id"] not in (None, killed_run)
    steps = [point.step for point in mlflow.MlflowClient().get_metric_history(summary["mlflow_run_id"], "val_loss")]
    assert steps == [0]  # the epoch trained again, in the new run
    logged = mlflow.get_run(summary["mlflow_run_id"]).data.params
    assert logged["train.learning_rate"] == "0.002"


def test_without_mlflow_the_outputs_are_the_run_record(offline_run: Path):
    outputs = offline_run / "models"
    summary = json.loads((outputs / "train.json").read_text())
    assert summary["mlflow_run_id"] is None and summary["complete"] is True
    assert summary["epochs_run"] == 2 and summary["train_images"] == 32 and summary["val_images"] == 8
    assert summary["framework"].startswith("keras 3") and summary["initialised_from"] is None
    assert history_epochs(outputs / "history.csv") == [0, 1]
    assert (outputs / "learning_curves.png").stat().st_size > 0
    # The best epoch's weights alone, without the optimizer's moments and averages (three times as large).
    parameters = build_model(seed=0, **MODEL_CONFIG).count_params()
    assert parameters * 4 < (outputs / "model.weights.h5").stat().st_size < parameters * 4 * 1.2
    assert not (offline_run / "state").exists()


def test_the_saved_weights_are_the_best_epochs(offline_run: Path):
    """Validation loss of the saved weights (EMA included) is the best epoch's, on the same validation set."""
    from training.batches import validation_arrays

    summary = json.loads((offline_run / "models/train.json").read_text())
    model = build_model(seed=0, **MODEL_CONFIG)
    model.load_weights(offline_run / "models/model.weights.h5")
    model.compile(loss=keras.losses.BinaryCrossentropy(label_smoothing=TRAIN_CONFIG["label_smoothing"]))
    images, labels = tiny_data()["val"]
    images, labels = validation_arrays(images, labels, SEED, TRAIN_CONFIG["degrade"], True)
    loss = model.evaluate(images.astype(np.float32), labels.astype(np.float32), verbose=0)
    assert loss == pytest.approx(summary["val_loss"], rel=1e-3)


def test_the_same_inputs_train_the_same_weights(base_model, offline_run: Path, tmp_path, monkeypatch):
    """docs/model.md claims a `dvc repro` on the same kind of machine re-makes the shipped weights bit
    for bit: every random draw (initialisation, dropout, data order, augmentation, the degraded
    validation copy) comes from the seed, none from the clock or a worker's timing."""
    monkeypatch.setenv("IMAGEAUTH_MLFLOW", "off")
    run(base_model, tmp_path)
    again, first = (build_model(seed=0, **MODEL_CONFIG) for _ in range(2))
    again.load_weights(tmp_path / "models/model.weights.h5")
    first.load_weights(offline_run / "models/model.weights.h5")
    for mine, theirs in zip(again.get_weights(), first.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert (tmp_path / "models/history.csv").read_text() == (offline_run / "models/history.csv").read_text()


def test_init_from_an_exported_model_starts_from_its_weights(base_model, exported_model, tmp_path, monkeypatch):
    """At a negligible learning rate, one epoch from an exported folder ends where that model is."""
    folder, _ = exported_model
    monkeypatch.setenv("IMAGEAUTH_MLFLOW", "off")
    config = {"epochs": 1, "learning_rate": 1e-12, "weight_decay": 0.0, "init_from": str(folder)}
    summary = run(base_model, tmp_path, config)
    card = json.loads((folder / "model.json").read_text())
    assert summary["initialised_from"]["model_version"] == card["version"]

    from training.warm_start import initialise

    expected = build_model(seed=0, **MODEL_CONFIG)
    initialise(expected, str(folder))
    trained = build_model(seed=0, **MODEL_CONFIG)
    trained.load_weights(tmp_path / "models/model.weights.h5")
    base = build_model(seed=0, **MODEL_CONFIG)
    base.load_weights(base_model)
    images = tiny_data()["train"][0].astype(np.float32)
    assert np.abs(base.predict(images, verbose=0) - expected.predict(images, verbose=0)).max() > 0.05
    np.testing.assert_allclose(trained.predict(images, verbose=0), expected.predict(images, verbose=0), atol=1e-4)


def test_a_run_folder_without_mlflow_is_imported_as_one_run(offline_run: Path, tmp_path: Path, tracking_store):
    from training.import_run import import_run

    folder = shutil.copytree(offline_run / "models", tmp_path / "from_gpu")
    params = {"base": {"seed": SEED}, "train": TRAIN_CONFIG}
    run_id = import_run(folder, params)

    summary = json.loads((folder / "train.json").read_text())
    assert summary["mlflow_run_id"] == run_id
    logged = mlflow.get_run(run_id)
    assert logged.info.status == "FINISHED" and logged.data.tags["stage"] == "train"
    assert logged.data.tags["framework"] == summary["framework"]
    assert logged.data.params["train.epochs"] == "2" and logged.data.params["base.seed"] == str(SEED)
    assert logged.data.metrics["best_val_loss"] == pytest.approx(summary["val_loss"])
    history = mlflow.MlflowClient().get_metric_history(run_id, "val_loss")
    assert [point.step for point in history] == [0, 1]
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run_id, "training")}
    assert {"training/model.weights.h5", "training/history.csv", "training/train.json"} <= artifacts
    with pytest.raises(ValueError, match="already"):
        import_run(folder, params)  # never logged twice
