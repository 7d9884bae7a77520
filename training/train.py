"""Stage `train`: fit the VGG16 detector with tf.data, resumably, tracked in MLflow.

Two phases: the head alone on a frozen base (useful with ImageNet weights),
then the top `fine_tune_blocks` VGG16 blocks (all five when training from
scratch) at `fine_tune_learning_rate`. The best epoch by validation loss is
kept; early stopping watches the same number.

Training survives interruption: everything needed to continue lives in
`state_dir` (Keras BackupAndRestore per phase, the best model so far, the
epoch log and the MLflow run id), outside DVC's outputs, which DVC deletes
before re-running a stage. Running the stage again continues the same MLflow
run from the last finished epoch. The state is removed once training ends,
and ignored if the training parameters changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import keras
import mlflow
import numpy as np

from training import tracking
from training.arrays import load_split
from training.dataset import make_dataset
from training.params import flatten, load_params
from training.plots import plot_learning_curves
from training.prepare_base_model import VGG16_BLOCKS, architecture, build_model, set_trainable_blocks
from training.run_record import best_epoch, describe_cpu
from training.schedule import learning_rate


class MlflowEpochLogger(keras.callbacks.Callback):
    """Per-epoch metrics to MLflow, with the epoch number as the step (so resumes line up)."""

    def __init__(self, phase: str) -> None:
        super().__init__()
        self.phase = phase

    def on_epoch_end(self, epoch, logs=None):
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        metrics["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        mlflow.log_metrics(metrics, step=epoch)


class ThroughputLogger(keras.callbacks.Callback):
    """A line every `every` batches with images/s: the progress bar for logs that are not terminals."""

    def __init__(self, batch_size: int, steps: int, every: int = 100) -> None:
        super().__init__()
        self.batch_size, self.steps, self.every = batch_size, steps, every

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start = epoch, time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            rate = (batch + 1) * self.batch_size / (time.monotonic() - self.start)
            print(
                f"epoch {self.epoch + 1} batch {batch + 1}/{self.steps} "
                f"loss {logs.get('loss', float('nan')):.4f} acc {logs.get('accuracy', float('nan')):.4f} "
                f"{rate:.0f} img/s",
                flush=True,
            )


def _fingerprint(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _load_state(state_dir: Path, fingerprint: str) -> dict:
    state_file = state_dir / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if state.get("fingerprint") == fingerprint:
            return state
        print(f"training parameters changed: discarding the old state in {state_dir}", flush=True)
    if state_dir.exists():
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True)
    return {"fingerprint": fingerprint, "completed_phases": [], "started": time.time()}


def _save_state(state_dir: Path, state: dict) -> None:
    (state_dir / "state.json").write_text(json.dumps(state, indent=2))


def _best_val_loss(history_csv: Path) -> float | None:
    if not history_csv.exists():
        return None
    with open(history_csv, newline="") as handle:
        losses = [float(row["val_loss"]) for row in csv.DictReader(handle) if row.get("val_loss")]
    return min(losses) if losses else None


def train(
    data_dir: Path,
    base_model_path: Path,
    output_dir: Path,
    state_dir: Path,
    model_config: dict,
    train_config: dict,
    seed: int,
    all_params: dict | None = None,
) -> dict:
    """Train and write `output_dir/model.keras`, `history.csv` and `train.json`; return the summary."""
    fingerprint = _fingerprint({"model": model_config, "train": train_config, "seed": seed})
    state = _load_state(state_dir, fingerprint)
    if train_config["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    # The initial weights come from the base-model stage, so nothing is downloaded twice.
    model = build_model(seed=seed, **{**model_config, "weights": None})
    model.load_weights(base_model_path)

    x_train, y_train = load_split(data_dir, "train")
    x_val, y_val = load_split(data_dir, "val")
    batch_size = train_config["batch_size"]
    train_ds = make_dataset(
        x_train,
        y_train,
        batch_size,
        training=True,
        seed=seed,
        flip=train_config["augment"]["flip"],
        translate=train_config["augment"]["translate"],
    )
    val_ds = make_dataset(x_val, y_val, batch_size, training=False)
    steps = -(-len(x_train) // batch_size)

    tracking.configure()
    run = mlflow.start_run(run_id=state.get("mlflow_run_id"))
    if "mlflow_run_id" not in state:
        state["mlflow_run_id"] = run.info.run_id
        mlflow.log_params(flatten(all_params or {"model": model_config, "train": train_config}))
        mlflow.set_tags({"hardware": describe_cpu(), "tensorflow": _tf_version(), "stage": "train"})
        _save_state(state_dir, state)

    history_csv = state_dir / "history.csv"
    best_path = state_dir / "best.keras"
    phases = [
        ("head", train_config["head_epochs"], 0, train_config["learning_rate"]),
        (
            "fine_tune",
            train_config["epochs"],
            train_config["fine_tune_blocks"],
            train_config["fine_tune_learning_rate"],
        ),
    ]
    for name, epochs, blocks, peak in phases:
        if epochs <= 0 or name in state["completed_phases"]:
            continue
        if (state_dir / f"{name}_done.weights.h5").exists():
            continue
        set_trainable_blocks(model, min(blocks, VGG16_BLOCKS))
        model.compile(
            optimizer=keras.optimizers.Adam(
                learning_rate(train_config["lr_schedule"], peak, epochs, steps, train_config["warmup_epochs"])
            ),
            loss="binary_crossentropy",
            metrics=["accuracy", keras.metrics.AUC(name="auc")],
        )
        callbacks = [
            keras.callbacks.BackupAndRestore(str(state_dir / f"backup_{name}")),
            keras.callbacks.CSVLogger(str(history_csv), append=True),
            keras.callbacks.ModelCheckpoint(
                str(best_path),
                monitor="val_loss",
                save_best_only=True,
                initial_value_threshold=_best_val_loss(history_csv),
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=train_config["early_stopping_patience"],
                restore_best_weights=False,
            ),
            MlflowEpochLogger(name),
            ThroughputLogger(batch_size, steps),
        ]
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,
        )
        state["completed_phases"].append(name)
        _save_state(state_dir, state)

    return _finish(state, state_dir, output_dir, history_csv, best_path, len(x_train), len(x_val), base_model_path)


def _summary(state, state_dir, output_dir, history_csv, best_path, n_train, n_val, base_model_path) -> dict:
    """Copy the best model and history to the stage outputs and describe them in `train.json`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best_path, output_dir / "model.keras")
    shutil.copyfile(history_csv, output_dir / "history.csv")
    started = state.get("started") or base_model_path.stat().st_mtime
    summary = {
        "mlflow_run_id": state["mlflow_run_id"],
        "complete": "fine_tune" in state["completed_phases"],
        **best_epoch(history_csv),
        "train_images": n_train,
        "val_images": n_val,
        # Wall-clock from the first epoch's start to the last epoch's end, resumes included.
        "training_seconds": round(history_csv.stat().st_mtime - started, 1),
        "hardware": describe_cpu(),
    }
    (output_dir / "train.json").write_text(json.dumps(summary, indent=2))
    plot_learning_curves(history_csv, output_dir / "learning_curves.png")
    return summary


def _finish(state, state_dir, output_dir, history_csv, best_path, n_train, n_val, base_model_path) -> dict:
    summary = _summary(state, state_dir, output_dir, history_csv, best_path, n_train, n_val, base_model_path)
    mlflow.log_metrics({"best_val_loss": summary["val_loss"], "best_val_accuracy": summary["val_accuracy"]})
    mlflow.log_artifact(str(output_dir / "learning_curves.png"), "plots")
    mlflow.log_artifact(str(output_dir / "model.keras"), "keras_model")
    mlflow.log_artifact(str(output_dir / "history.csv"), "training")
    mlflow.log_artifact(str(output_dir / "train.json"), "training")
    mlflow.end_run()
    shutil.rmtree(state_dir)
    return summary


def snapshot(data_dir: Path, base_model_path: Path, output_dir: Path, state_dir: Path) -> dict:
    """Outputs from the best epoch so far of a training still in progress (or interrupted).

    The state is left in place, so training can resume afterwards; `train.json`
    says `"complete": false`. This is how a model is shipped from a run that a
    machine's time limit cut short: honestly labelled, and improvable later.
    """
    state = json.loads((state_dir / "state.json").read_text())
    best_path = state_dir / "best.keras"
    if not best_path.exists():
        raise FileNotFoundError(f"no finished epoch yet in {state_dir}")
    n_train = len(np.load(data_dir / "train_labels.npy"))
    n_val = len(np.load(data_dir / "val_labels.npy"))
    summary = _summary(
        state, state_dir, output_dir, state_dir / "history.csv", best_path, n_train, n_val, base_model_path
    )
    tracking.configure()
    with mlflow.start_run(run_id=state["mlflow_run_id"]):
        mlflow.log_metrics({"best_val_loss": summary["val_loss"], "best_val_accuracy": summary["val_accuracy"]})
        mlflow.log_artifact(str(output_dir / "model.keras"), "keras_model")
        mlflow.log_artifact(str(output_dir / "train.json"), "training")
    return summary


def _tf_version() -> str:
    import tensorflow as tf

    return tf.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="write the outputs from the best epoch so far of an unfinished run, and keep its state",
    )
    arguments = parser.parse_args()
    params = load_params()
    model_section = params["prepare_base_model"]
    data_dir = Path(params["ingest"]["output_dir"])
    base_model_path = Path(model_section["output"])
    output_dir = Path(params["train"]["output_dir"])
    state_dir = Path(params["train"]["state_dir"])
    if arguments.snapshot:
        print(json.dumps(snapshot(data_dir, base_model_path, output_dir, state_dir), indent=2))
        return
    summary = train(
        data_dir=data_dir,
        base_model_path=base_model_path,
        output_dir=output_dir,
        state_dir=state_dir,
        model_config=architecture(params),
        train_config=params["train"],
        seed=params["base"]["seed"],
        all_params=params,
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
