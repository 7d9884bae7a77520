"""What both trainers write into `train.json`: the best epoch of a Keras history, and the hardware.

Kept free of TensorFlow and MLflow so that the GPU trainer, which has neither, can use it.
"""

from __future__ import annotations

import csv
import os
import platform
import subprocess
from pathlib import Path


def best_epoch(history_csv: Path) -> dict:
    """The epoch with the lowest validation loss (the best-epoch rule of both trainers), from a CSVLogger file."""
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    best = min(rows, key=lambda row: float(row["val_loss"]))
    return {
        "epochs_run": len(rows),
        "best_epoch": int(best["epoch"]) + 1,
        "val_loss": float(best["val_loss"]),
        "val_accuracy": float(best["val_accuracy"]),
        "val_auc": float(best["val_auc"]),
    }


def describe_cpu() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} x {cpu}"


def describe_gpus() -> str | None:
    try:
        names = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return None
    return ", ".join(name for name in names if name) or None
