"""Keras callbacks of the train stage: MLflow per-epoch logging, a progress line, a time budget."""

from __future__ import annotations

import time

import keras


class MlflowEpochLogger(keras.callbacks.Callback):
    """Per-epoch metrics to MLflow with the epoch number as the step, so a resumed run lines up.

    A kill after an epoch's metrics were logged but before its backup makes the
    resumed run train that epoch again, with the same result; `logged_steps`
    (the epochs the run already holds) are not logged a second time, so each
    epoch is one point on every curve.
    """

    def __init__(self, logged_steps: frozenset[int] = frozenset()) -> None:
        super().__init__()
        self.logged_steps = logged_steps

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        if epoch in self.logged_steps:
            return
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        metrics["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        mlflow.log_metrics(metrics, step=epoch)


class ThroughputLogger(keras.callbacks.Callback):
    """A line every `every` batches with images/s and an ETA: the progress bar of a log file."""

    def __init__(self, batch_size: int, steps: int, every: int = 100) -> None:
        super().__init__()
        self.batch_size, self.steps, self.every = batch_size, steps, every

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.start = epoch, time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            elapsed = time.monotonic() - self.start
            rate = (batch + 1) * self.batch_size / elapsed
            eta = (self.steps - batch - 1) * elapsed / (batch + 1)
            print(
                f"epoch {self.epoch + 1} batch {batch + 1}/{self.steps} loss {logs.get('loss', float('nan')):.4f} "
                f"acc {logs.get('accuracy', float('nan')):.4f} {rate:.0f} img/s, epoch ends in {eta / 60:.1f} min",
                flush=True,
            )


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch that would leave no room for another, so the outputs are always written."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + seconds
        self.epoch_start = time.monotonic()
        self.stopped = False  # whether the budget, rather than the epoch plan or early stopping, ended the run

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now + (now - self.epoch_start) > self.deadline:
            print(f"time budget reached after epoch {epoch + 1}", flush=True)
            self.model.stop_training = True
            self.stopped = epoch + 1 < self.params.get("epochs", epoch + 1)
