"""The GPU path: the data pack, the numpy augmentation, the accelerator trainer and the MLflow import.

The trainer runs here on the TensorFlow backend with a handful of images: the
code is backend-agnostic Keras 3, and what these tests guard (outputs, time
budget, weights that load into the train stage's model) does not depend on
the backend.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import tensorflow as tf

from training.ingest import ingest
from training.pack import array_digest, read_pack, write_pack
from training.prepare_base_model import build_model
from training.train_accelerated import augment, train_accelerated

MODEL_CONFIG = {"image_size": 32, "weights": None, "dense_units": 8, "dropout": 0.0}


@pytest.fixture
def ingested(make_dataset, tmp_path: Path) -> tuple[Path, Path]:
    source = make_dataset(per_class=8, as_zip=True)
    data_dir = tmp_path / "data"
    ingest(str(source), data_dir, 32, ["real", "fake"], 0.25, seed=1, cache_dir=tmp_path / "cache")
    return data_dir, source


def test_pack_decodes_to_the_ingested_arrays(ingested, tmp_path: Path) -> None:
    data_dir, source = ingested
    pack = tmp_path / "pack.npz"
    write_pack(data_dir, source, pack)
    data = read_pack(pack, workers=2)
    assert set(data) == {"train", "val"}
    for split, (images, labels) in data.items():
        np.testing.assert_array_equal(images, np.load(data_dir / f"{split}_images.npy"))
        np.testing.assert_array_equal(labels, np.load(data_dir / f"{split}_labels.npy"))


def test_pack_refuses_pixels_that_differ_from_ingest(ingested, tmp_path: Path) -> None:
    data_dir, source = ingested
    images = np.load(data_dir / "train_images.npy")
    images[0, 0, 0, 0] ^= 1  # as if ingest had decoded with another libjpeg
    np.save(data_dir / "train_images.npy", images)
    pack = tmp_path / "pack.npz"
    write_pack(data_dir, source, pack)
    with pytest.raises(ValueError, match="other pixels"):
        read_pack(pack, workers=1)


def _tf_candidates(image: np.ndarray, pixels: int) -> list[np.ndarray]:
    """Every image that training.dataset's tf.data augmentation can make from `image`."""
    padded = tf.pad(image, [[pixels, pixels], [pixels, pixels], [0, 0]], mode="REFLECT").numpy()
    size = image.shape[0]
    crops = [padded[y : y + size, x : x + size] for y in range(2 * pixels + 1) for x in range(2 * pixels + 1)]
    return crops + [crop[:, ::-1] for crop in crops]


def test_numpy_augmentation_makes_only_what_tf_data_makes() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    augmented = augment(images, np.random.default_rng(1), flip=True, translate=2)
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    for original, result in zip(images, augmented, strict=True):
        assert any(np.array_equal(result, candidate) for candidate in _tf_candidates(original, 2))
    # Shifts and flips actually happen, and differ per image.
    assert sum(not np.array_equal(a, b) for a, b in zip(images, augmented, strict=True)) >= 12


def test_augmentation_off_is_the_identity() -> None:
    images = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(augment(images, np.random.default_rng(3), flip=False, translate=0), images)


def _tiny_data(count: int = 32) -> dict:
    rng = np.random.default_rng(4)
    labels = np.arange(count) % 2
    images = np.where(labels[:, None, None, None], 200, 40).astype(np.uint8) + rng.integers(
        0, 40, (count, 32, 32, 3), dtype=np.uint8
    )
    return {"train": (images, labels.astype(np.uint8)), "val": (images[:8], labels[:8].astype(np.uint8))}


TRAIN_CONFIG = {
    "batch_size": 16,
    "epochs": 2,
    "fine_tune_learning_rate": 1e-4,
    "lr_schedule": "cosine",
    "warmup_epochs": 0,
    "early_stopping_patience": 3,
    "mixed_precision": False,
    "augment": {"flip": True, "translate": 2},
}


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("gpu_run")
    train_accelerated(_tiny_data(), output, MODEL_CONFIG, TRAIN_CONFIG, seed=5, time_budget=600)
    return output


def test_accelerated_run_writes_what_import_needs(gpu_run: Path) -> None:
    info = json.loads((gpu_run / "train.json").read_text())
    assert info["epochs_run"] == 2 and info["train_images"] == 32
    assert info["framework"].startswith("keras 3") and info["images_per_second"] > 0
    history = (gpu_run / "history.csv").read_text().splitlines()
    assert history[0].split(",")[0] == "epoch" and len(history) == 3
    # The best epoch's weights alone, without the optimizer's moments (a third of the checkpoint).
    weights = gpu_run / "model.weights.h5"
    parameters = build_model(seed=0, **MODEL_CONFIG).count_params()
    assert parameters * 4 < weights.stat().st_size < parameters * 4 * 1.2


def test_time_budget_plans_fewer_epochs(tmp_path: Path) -> None:
    """A budget that affords one epoch gets a one-epoch schedule, not a cut-off long one."""
    info = train_accelerated(
        _tiny_data(), tmp_path, MODEL_CONFIG, {**TRAIN_CONFIG, "epochs": 50}, seed=5, time_budget=1
    )
    assert info["epochs_planned"] == 1 and info["epochs_run"] == 1


def test_init_weights_continues_from_a_finished_run(gpu_run: Path, tmp_path: Path) -> None:
    """With `init_weights` and a negligible learning rate, the run ends where the earlier one did."""
    config = {**TRAIN_CONFIG, "epochs": 1, "fine_tune_learning_rate": 1e-12, "augment": {"flip": False, "translate": 0}}
    images = _tiny_data()["val"][0].astype(np.float32)
    finished = build_model(seed=0, **MODEL_CONFIG)
    finished.load_weights(gpu_run / "model.weights.h5")
    expected = finished.predict(images, verbose=0)

    def predictions_after(output: Path, train_config: dict) -> np.ndarray:
        train_accelerated(_tiny_data(), output, MODEL_CONFIG, train_config, seed=7, time_budget=600)
        model = build_model(seed=0, **MODEL_CONFIG)
        model.load_weights(output / "model.weights.h5")
        return model.predict(images, verbose=0)

    continued = predictions_after(tmp_path / "continued", {**config, "init_weights": str(gpu_run / "model.weights.h5")})
    np.testing.assert_allclose(continued, expected, atol=1e-5)
    fresh = predictions_after(tmp_path / "fresh", config)
    assert np.abs(fresh - expected).max() > 1e-3


def test_a_killed_resumable_run_continues_its_schedule(tmp_path: Path, monkeypatch) -> None:
    """Killed after epoch 2 of 3, the same call again trains epoch 3 only, on the first call's plan."""
    import training.train_accelerated as trainer

    config = {**TRAIN_CONFIG, "epochs": 3, "ema_momentum": 0.9}
    killed_after = []

    def kill_after_second_epoch(self, epoch, logs=None):
        if epoch == 1:
            killed_after.append(epoch)
            raise KeyboardInterrupt  # as if the session ended

    with monkeypatch.context() as patch:
        patch.setattr(trainer.TimeBudget, "on_epoch_end", kill_after_second_epoch)
        with pytest.raises(KeyboardInterrupt):
            train_accelerated(_tiny_data(), tmp_path, MODEL_CONFIG, config, seed=5, time_budget=600, resumable=True)
    assert killed_after == [1] and (tmp_path / "backup").is_dir()
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 1 + 2

    # A budget that would plan a single epoch: the resumed run keeps the original plan instead.
    info = train_accelerated(_tiny_data(), tmp_path, MODEL_CONFIG, config, seed=5, time_budget=1, resumable=True)
    assert info["epochs_planned"] == 3 and info["epochs_run"] == 3
    epochs = [row.split(",")[0] for row in (tmp_path / "history.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2"]
    assert not (tmp_path / "backup").exists()  # a finished run leaves no state behind
    assert (tmp_path / "model.weights.h5").is_file()


def _summary_entry(gpu_run: Path, tmp_path: Path, monkeypatch) -> dict:
    """The run as scripts/train_on_gpu.sh sends it back, with MLflow pointed at a fresh store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return {
        "train": json.loads((gpu_run / "train.json").read_text()),
        "history_csv": (gpu_run / "history.csv").read_text(),
    }


def test_import_logs_every_run_and_writes_the_train_stage_outputs(gpu_run: Path, tmp_path: Path, monkeypatch) -> None:
    from training.import_run import import_runs

    run = _summary_entry(gpu_run, tmp_path, monkeypatch)
    loser = {**run, "train": {**run["train"], "val_accuracy": run["train"]["val_accuracy"] - 0.1}}
    summary = {"winner": "a", "runs": {"a": run, "b": loser, "c": {"log_tail": "crashed"}}}
    params = {
        "base": {"image_size": 32, "seed": 5},
        "prepare_base_model": {k: v for k, v in MODEL_CONFIG.items() if k != "image_size"},
    }
    output = tmp_path / "models"
    info = import_runs(summary, gpu_run / "model.weights.h5", output, params, seed=5)

    runs = mlflow.search_runs(experiment_names=["imageauth"])
    assert len(runs) == 2  # the crashed run has nothing to log
    winner = mlflow.get_run(info["mlflow_run_id"])
    assert winner.data.metrics["best_val_accuracy"] == pytest.approx(run["train"]["val_accuracy"])
    assert winner.data.tags["stage"] == "train_accelerated"
    history = mlflow.MlflowClient().get_metric_history(info["mlflow_run_id"], "val_loss")
    assert [point.step for point in history] == [0, 1]
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(info["mlflow_run_id"], "keras_model")}
    assert "keras_model/model.keras" in artifacts

    reference = build_model(seed=0, **MODEL_CONFIG)
    reference.load_weights(gpu_run / "model.weights.h5")
    imported = keras.saving.load_model(output / "model.keras")
    images = _tiny_data()["val"][0].astype(np.float32)
    np.testing.assert_allclose(imported.predict(images, verbose=0), reference.predict(images, verbose=0), atol=1e-6)
    assert json.loads((output / "train.json").read_text())["compared_runs"]["b"]["val_accuracy"] < info["val_accuracy"]
    assert (output / "history.csv").read_text() == run["history_csv"]


def test_array_digest_sees_one_changed_pixel() -> None:
    images = np.zeros((2, 4, 4, 3), np.uint8)
    changed = images.copy()
    changed[1, 3, 3, 2] = 1
    assert array_digest(images) != array_digest(changed)


def test_earlier_rounds_are_logged_without_a_model(gpu_run: Path, tmp_path: Path, monkeypatch) -> None:
    from training.import_run import log_earlier_rounds

    run = _summary_entry(gpu_run, tmp_path, monkeypatch)
    params = {"base": {"image_size": 32, "seed": 5}}
    ids = log_earlier_rounds([{"winner": "x", "runs": {"x": run, "y": {"log_tail": "killed"}}}], params)
    assert len(ids) == 1
    logged = mlflow.get_run(ids[0])
    # Trained on this CPU-only test machine, so named "cpu-"; runs from the GPU machine are "gpu-".
    assert logged.info.run_name == "cpu-r1-x" and logged.data.tags["weights"].startswith("not kept")
    assert logged.data.metrics["best_val_accuracy"] == pytest.approx(run["train"]["val_accuracy"])
    assert not mlflow.MlflowClient().list_artifacts(ids[0], "keras_model")


def test_a_continued_run_records_its_parent_and_the_best_folder_wins(
    gpu_run: Path, tmp_path: Path, monkeypatch
) -> None:
    """`--run-dir` folders (CPU runs of this trainer) and `--continues` lineage, as the shipped model used them."""
    from training.import_run import import_runs, summary_of_run_dirs

    _summary_entry(gpu_run, tmp_path, monkeypatch)
    params = {
        "base": {"image_size": 32, "seed": 5},
        "prepare_base_model": {k: v for k, v in MODEL_CONFIG.items() if k != "image_size"},
    }
    parent = import_runs(summary_of_run_dirs([gpu_run]), gpu_run / "model.weights.h5", tmp_path / "first", params, 5)
    better, worse = tmp_path / "refine_a", tmp_path / "refine_b"
    for folder, change in ((better, 0.01), (worse, -0.01)):
        shutil.copytree(gpu_run, folder)
        info = json.loads((folder / "train.json").read_text())
        (folder / "train.json").write_text(json.dumps({**info, "val_accuracy": info["val_accuracy"] + change}))
    summary = summary_of_run_dirs([worse, better])
    assert summary["winner"] == "refine_a"

    info = import_runs(summary, better / "model.weights.h5", tmp_path / "models", params, 5, parent["mlflow_run_id"])
    assert info["continued_from"]["mlflow_run_id"] == parent["mlflow_run_id"]
    assert info["continued_from"]["epochs_run"] == parent["epochs_run"] == 2
    logged = mlflow.get_run(info["mlflow_run_id"])
    assert logged.data.tags["continues_run"] == parent["mlflow_run_id"]
    # This test machine has no GPU, and the run's name says where it trained.
    assert logged.info.run_name == "cpu-refine_a"
    card_source = json.loads((tmp_path / "models/train.json").read_text())
    assert card_source["continued_from"] == info["continued_from"]
