"""Stage `train` on a rented accelerator: Keras 3 on JAX, without TensorFlow or MLflow.

Why a second trainer: two CPU cores train VGG16 at ~100 images/s, about 7
epochs in a working session; one H100 does an epoch in seconds, but the GPU
machines this project can borrow carry no TensorFlow (so no tf.data) and reach
no MLflow server. Everything that decides what the model learns is shared
with `training.train`: the architecture (`build_model`), the learning-rate
schedule, the augmentation (reflect-padded shifts and flips, here in numpy),
the loss, the best-epoch rule (lowest validation loss) and early stopping.
What differs is the input pipeline and the bookkeeping: this writes the
weights, `history.csv` and `train.json` to a folder, and `training.import_run`
turns them into an MLflow run and the train stage's outputs, after which
`evaluate` and `export` run unchanged.

Several configurations can train side by side on one GPU (each a process);
the launcher keeps the weights of the one with the best validation accuracy,
because a borrowed machine may send back only so many bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import keras
import numpy as np
import yaml

from training.arrays import load_split
from training.pack import read_pack
from training.prepare_base_model import architecture, build_model
from training.run_record import best_epoch, describe_cpu, describe_gpus
from training.schedule import learning_rate


def augment(images: np.ndarray, rng: np.random.Generator, flip: bool, translate: int) -> np.ndarray:
    """Shift each image by up to `translate` pixels (reflect padding) and flip half of them, in one gather.

    The same transformations as `training.dataset` applies with tf.data.
    """
    count, size = images.shape[:2]
    rows = np.arange(size)[None, :].repeat(count, 0)
    cols = rows.copy()
    if translate:
        images = np.pad(images, [(0, 0), (translate, translate), (translate, translate), (0, 0)], mode="reflect")
        rows = rows + rng.integers(0, 2 * translate + 1, (count, 1))
        cols = cols + rng.integers(0, 2 * translate + 1, (count, 1))
    if flip:
        flipped = rng.random(count) < 0.5
        cols[flipped] = cols[flipped, ::-1]
    index = np.arange(count)[:, None, None]
    return images[index, rows[:, :, None], cols[:, None, :]]


class Batches(keras.utils.PyDataset):
    """Shuffled, augmented float32 batches of uint8 arrays; a new order and new shifts every epoch."""

    def __init__(self, images, labels, batch_size, seed, flip=False, translate=0, training=True, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels = images, labels.astype(np.float32)
        self.batch_size, self.flip, self.translate, self.training = batch_size, flip, translate, training
        self.seed, self.epoch = seed, 0
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images)) if training else np.arange(len(images))

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        chosen = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        images = self.images[chosen]
        if self.training:
            # A generator per batch: worker threads may ask for batches in any order.
            rng = np.random.default_rng([self.seed, self.epoch, index])
            images = augment(images, rng, self.flip, self.translate)
        return images.astype(np.float32), self.labels[chosen]

    def on_epoch_end(self):
        if self.training:
            self.epoch += 1
            self.order = self.rng.permutation(len(self.images))


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch that would leave no room for another, so the outputs are always written."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + seconds
        self.epoch_start = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now + (now - self.epoch_start) > self.deadline:
            print(f"time budget reached after epoch {epoch + 1}", flush=True)
            self.model.stop_training = True


def _compile(
    model: keras.Model, schedule, weight_decay: float, label_smoothing: float = 0.0, ema_momentum: float = 0.0
) -> None:
    # An exponential moving average of the weights (validated and saved in place of the raw
    # weights, see SwapEMAWeights below) smooths out the last epochs' step-to-step noise.
    ema = {"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum else {}
    optimizer = (
        keras.optimizers.AdamW(schedule, weight_decay=weight_decay, **ema)
        if weight_decay
        else keras.optimizers.Adam(schedule, **ema)
    )
    model.compile(
        optimizer=optimizer,
        # Smoothing keeps the logits from growing without bound late in a long run, which would
        # raise validation loss (the best-epoch rule) while accuracy still improves.
        loss=keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )


def measure_speed(model: keras.Model, images: np.ndarray, batch_size: int, steps: int = 30) -> tuple[float, float]:
    """Training images per second and compilation seconds, with a learning rate of zero.

    A zero rate leaves the weights where they were; Adam's moments do move, but
    `_compile` builds a fresh optimizer afterwards.
    """
    _compile(model, 0.0, 0.0)
    batch = images[:batch_size].astype(np.float32), np.zeros(batch_size, np.float32)
    start = time.monotonic()
    model.train_on_batch(*batch)
    compile_seconds = time.monotonic() - start
    start = time.monotonic()
    for _ in range(steps):
        model.train_on_batch(*batch)
    return steps * batch_size / (time.monotonic() - start), compile_seconds


def train_accelerated(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    output_dir: Path,
    model_config: dict,
    train_config: dict,
    seed: int,
    time_budget: float,
    resumable: bool = False,
) -> dict:
    """Train one configuration; write `model.weights.h5` (best epoch), `history.csv`, `train.json` to `output_dir`.

    `resumable` (for CPU runs that outlive a working session): a Keras
    BackupAndRestore state after every epoch and the epoch plan in
    `output_dir/plan.json`, so that the same call after a kill continues the
    same schedule from the last finished epoch instead of planning anew.
    """
    started = time.time()
    if train_config["mixed_precision"]:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    (x_train, y_train), (x_val, y_val) = data["train"], data["val"]
    batch_size = train_config["batch_size"]
    output_dir.mkdir(parents=True, exist_ok=True)
    plan_path, backup_dir = output_dir / "plan.json", output_dir / "backup"
    model = build_model(seed=seed, **{**model_config, "weights": None})
    if train_config.get("init_weights"):
        # Continue a finished run (a "refine" round): its weights, a fresh optimizer and schedule.
        model.load_weights(train_config["init_weights"])
    # The plan is written before the first epoch, the backup after it: both exist only for a killed run.
    resuming = resumable and backup_dir.exists() and plan_path.exists()
    if resuming:
        plan = json.loads(plan_path.read_text())
        print(f"resuming: {plan['epochs']} epochs planned, state in {backup_dir}", flush=True)
    else:
        speed, compile_seconds = measure_speed(model, x_train, batch_size)
        # Margins for validation, the host side, and compiling once more with the real optimizer.
        epoch_seconds = len(x_train) / speed * 1.3 + 2
        affordable = int((time_budget - (time.time() - started) - compile_seconds) / epoch_seconds)
        epochs = max(1, min(train_config["epochs"], affordable))
        print(f"{speed:.0f} images/s: {epochs} epochs of ~{epoch_seconds:.0f} s", flush=True)
        plan = {"epochs": epochs, "images_per_second": round(speed), "seconds_before": 0.0}
        if resumable:
            plan_path.write_text(json.dumps(plan))
    epochs, speed = plan["epochs"], plan["images_per_second"]

    steps = -(-len(x_train) // batch_size)
    _compile(
        model,
        learning_rate(
            train_config["lr_schedule"],
            train_config["fine_tune_learning_rate"],
            epochs,
            steps,
            train_config["warmup_epochs"],
        ),
        train_config.get("weight_decay", 0.0),
        train_config.get("label_smoothing", 0.0),
        train_config.get("ema_momentum", 0.0),
    )
    augmentation = train_config["augment"]
    workers = {"workers": 4, "use_multiprocessing": False, "max_queue_size": 16}
    train_batches = Batches(
        x_train, y_train, batch_size, seed, augmentation["flip"], augmentation["translate"], **workers
    )
    val_batches = Batches(x_val, y_val, 1024, seed, training=False)
    history_csv = output_dir / "history.csv"
    # A resumed run must not overwrite the best epoch so far with a worse one.
    best_so_far = best_epoch(history_csv)["val_loss"] if resuming and history_csv.exists() else None

    def record_seconds(epoch, logs):
        plan_path.write_text(json.dumps({**plan, "seconds_before": plan["seconds_before"] + time.time() - started}))

    model.fit(
        train_batches,
        validation_data=val_batches,
        epochs=epochs,
        verbose=2,
        callbacks=[
            keras.callbacks.CSVLogger(str(history_csv), append=resuming),
            # Before the EMA swap: the backup holds the raw weights, and the averages in the optimizer.
            *([keras.callbacks.BackupAndRestore(str(backup_dir))] if resumable else []),
            # Before the checkpoint, so that it saves the averaged weights (validation swaps them in
            # by itself).
            *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if train_config.get("ema_momentum") else []),
            keras.callbacks.ModelCheckpoint(
                str(output_dir / "best.weights.h5"),
                monitor="val_loss",
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=best_so_far,
            ),
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=train_config["early_stopping_patience"]),
            TimeBudget(time_budget - (time.time() - started)),
            *([keras.callbacks.LambdaCallback(on_epoch_end=record_seconds)] if resumable else []),
        ],
    )
    # The checkpoint holds Adam's moments too (3x the size); ship the best epoch's weights alone.
    model.load_weights(output_dir / "best.weights.h5")
    weights_only = build_model(seed=seed, **{**model_config, "weights": None})
    weights_only.set_weights(model.get_weights())
    weights_only.save_weights(output_dir / "model.weights.h5")
    (output_dir / "best.weights.h5").unlink()
    summary = {
        "complete": True,
        "epochs_planned": epochs,
        **best_epoch(history_csv),
        "train_images": len(x_train),
        "val_images": len(x_val),
        "training_seconds": round(plan["seconds_before"] + time.time() - started, 1),
        "images_per_second": round(speed),
        "hardware": f"{describe_gpus() or 'no GPU'} + {describe_cpu()} CPU threads",
        "framework": f"keras {keras.__version__} on {keras.backend.backend()}",
        "train_config": train_config,
    }
    (output_dir / "train.json").write_text(json.dumps(summary, indent=2))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pack", type=Path, help="made by training.pack (on a machine without the ingest arrays)")
    source.add_argument("--data-dir", type=Path, help="ingest's output folder (the same arrays, already decoded)")
    parser.add_argument("--config", type=Path, required=True, help="a params file (architecture, train section)")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--time-budget", type=float, default=300, help="seconds, compilation included")
    parser.add_argument("--resumable", action="store_true", help="back up every epoch; run again to continue")
    parser.add_argument("--set", action="append", default=[], help="train.KEY=VALUE overrides (YAML values)")
    arguments = parser.parse_args()
    params = yaml.safe_load(arguments.config.read_text())
    for override in arguments.set:
        key, value = override.split("=", 1)
        section, *path = key.split(".")
        target = params[section]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = yaml.safe_load(value)
    started = time.monotonic()
    if arguments.pack:
        data = read_pack(arguments.pack, workers=min(8, os.cpu_count() or 1))
        print(f"decoded and verified the pack in {time.monotonic() - started:.0f} s", flush=True)
    else:
        data = {split: load_split(arguments.data_dir, split) for split in ("train", "val")}
    summary = train_accelerated(
        data,
        arguments.output_dir,
        architecture(params),
        params["train"],
        params["base"]["seed"],
        arguments.time_budget - (time.monotonic() - started),
        arguments.resumable,
    )
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
