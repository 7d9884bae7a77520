"""Input-pipeline throughput: imageauth's tf.data pipeline against `ImageDataGenerator.flow_from_directory`.

Both read the same 32x32 JPEGs (the generated demo dataset, Kaggle layout)
and apply the same augmentation (random horizontal flips), batch 64. The
baseline decodes every file with PIL on every epoch, in Python. The tf.data
pipeline reads the arrays that the ingest stage decoded once; its one-time
ingest cost is reported separately and also amortised over the epochs.

Usage: python bench/tfdata.py [--per-class 2000] [--epochs 3]
Prints a table and writes bench/results/tfdata.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tabulate import tabulate  # noqa: E402

from training.arrays import load_split
from training.dataset import make_dataset  # noqa: E402
from training.demo_data import make_demo_dataset  # noqa: E402
from training.ingest import ingest  # noqa: E402

BATCH = 64


def baseline_epoch(train_dir: Path) -> tuple[int, float]:
    generator = tf.keras.preprocessing.image.ImageDataGenerator(horizontal_flip=True)
    flow = generator.flow_from_directory(
        str(train_dir), target_size=(32, 32), batch_size=BATCH, class_mode="binary", seed=0
    )
    start = time.perf_counter()
    images = 0
    for _ in range(len(flow)):
        batch, _ = next(flow)
        images += len(batch)
    return images, time.perf_counter() - start


def tfdata_epoch(dataset: tf.data.Dataset) -> tuple[int, float]:
    start = time.perf_counter()
    images = 0
    for batch, _ in dataset:
        images += int(batch.shape[0])
    return images, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("bench/results/tfdata.json"))
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_demo_dataset(root / "demo", 32, arguments.per_class, 10, seed=0)
        start = time.perf_counter()
        ingest(str(root / "demo"), root / "prepared", 32, ["real", "fake"], 0.0, 0, cache_dir=root / "cache")
        ingest_seconds = time.perf_counter() - start
        images, labels = load_split(root / "prepared", "train")
        dataset = make_dataset(images, labels, BATCH, training=True, seed=0, flip=True)

        baseline = [baseline_epoch(root / "demo" / "train") for _ in range(arguments.epochs)]
        ours = [tfdata_epoch(dataset) for _ in range(arguments.epochs)]

    baseline_rate = sum(n for n, _ in baseline) / sum(t for _, t in baseline)
    ours_rate = sum(n for n, _ in ours) / sum(t for _, t in ours)
    amortised_rate = sum(n for n, _ in ours) / (sum(t for _, t in ours) + ingest_seconds)
    rows = [
        ["ImageDataGenerator.flow_from_directory (baseline)", f"{baseline_rate:,.0f}", "1.0x"],
        ["tf.data over ingested arrays", f"{ours_rate:,.0f}", f"{ours_rate / baseline_rate:.1f}x"],
        [
            f"tf.data incl. one-time ingest ({ingest_seconds:.1f} s) over {arguments.epochs} epochs",
            f"{amortised_rate:,.0f}",
            f"{amortised_rate / baseline_rate:.1f}x",
        ],
    ]
    print(tabulate(rows, headers=["pipeline", "images/s", "vs baseline"]))
    result = {
        "images": len(images),
        "epochs": arguments.epochs,
        "batch_size": BATCH,
        "baseline_images_per_second": baseline_rate,
        "tfdata_images_per_second": ours_rate,
        "tfdata_with_ingest_images_per_second": amortised_rate,
        "ingest_seconds": ingest_seconds,
        "speedup": ours_rate / baseline_rate,
        "speedup_with_ingest": amortised_rate / baseline_rate,
        "machine": f"{os.cpu_count()} CPU, {platform.processor() or platform.machine()}",
        "tensorflow": tf.__version__,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
