"""What lets a killed train stage continue as if it had not been killed.

The state folder holds the epoch plan's fingerprint, the MLflow run id, the
epoch log and Keras' BackupAndRestore state; the backup is the last thing
written at the end of an epoch, so an epoch counts as finished only when all
of its records are written. Everything here reconciles the records of an
epoch that was cut short with the backup's count.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import keras


def fingerprint(config: dict) -> str:
    """Names the epoch plan: a state saved under other parameters is not resumed."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def load_state(state_dir: Path, run_fingerprint: str) -> dict:
    """The saved state of an interrupted run with the same parameters, or a fresh state."""
    state_file = state_dir / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if state.get("fingerprint") == run_fingerprint:
            print(f"resuming the interrupted run in {state_dir}", flush=True)
            return state
        print(f"training parameters changed: discarding the old state in {state_dir}", flush=True)
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    return {"fingerprint": run_fingerprint, "started": time.time(), "seconds_before": 0.0}


def save_state(state_dir: Path, state: dict) -> None:
    (state_dir / "state.json").write_text(json.dumps(state, indent=2))


def finished_epochs(backup_dir: Path) -> int:
    metadata = backup_dir / "training_metadata.json"
    return json.loads(metadata.read_text())["epoch"] if metadata.exists() else 0


def forget_unfinished_epochs(history_csv: Path, finished: int) -> None:
    """Drop the log rows of epochs the backup does not count as finished: they will run again.

    The backup is written last at the end of an epoch, so a kill just before
    it leaves that epoch's row in the log while the restored run trains the
    epoch again; without this the epoch would be listed twice.
    """
    if not history_csv.exists():
        return
    header, *rows = history_csv.read_text().splitlines(keepends=True)
    history_csv.write_text(header + "".join(row for row in rows if int(row.split(",", 1)[0]) < finished))


class ResumableSwapEMAWeights(keras.callbacks.SwapEMAWeights):
    """SwapEMAWeights that knows a restored run starts with the averaged weights in the model.

    The backup is written after this callback's end of epoch, when the model
    holds the averages and the optimizer the raw weights; a restored run must
    swap them back before its first epoch, which the stock callback only does
    for a swap it made itself. (`_ema_weights_in_model` is Keras' own flag;
    the resume tests fail if a Keras release changes its meaning.)
    """

    def __init__(self, restored: bool) -> None:
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = restored


def logged_steps() -> frozenset[int]:
    """The epochs whose metrics the active MLflow run already holds."""
    import mlflow

    history = mlflow.MlflowClient().get_metric_history(mlflow.active_run().info.run_id, "val_loss")
    return frozenset(point.step for point in history)
