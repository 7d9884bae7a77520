"""Training input throughput: `training.batches.Batches` against a naive per-image loop.

Both make the same training batches from the same 32x32 JPEG files (the
generated demo dataset, Kaggle layout), with the same augmentation: first
shifts and flips only, then the whole recipe of params.yaml's `train` section
(blur, resizing, sharpening, noise and JPEG re-compression on top). The naive
baseline does what a first training loop does: every epoch, open and decode
each file with Pillow, augment it alone, stack a batch. `Batches` reads the
arrays that the ingest stage decoded once, shifts and flips a whole batch in
one gather, and is read by as many worker threads as the train stage gives
Keras (4); the one-time ingest is reported apart. Its last row moves the
augmentation to a pool of processes (IMAGEAUTH_LOADER_PROCESSES, automatic on
8 or more cores), measured once its workers have started, as in a long run.

Usage: python bench/batches.py [--per-class 1000] [--epochs 2] [--processes 2]
Prints a table and writes bench/results/batches.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

from training.arrays import load_split
from training.augment import augment_batch
from training.batches import Batches, loader_options
from training.demo_data import make_demo_dataset
from training.ingest import ingest
from training.params import load_params

BATCH = 128  # params.yaml's train.batch_size
WORKERS = 4  # the train stage's PyDataset workers


def naive_epoch(files: list[Path], recipe: dict, epoch: int) -> int:
    """Decode and augment one file at a time, in a shuffled order, as a first training loop would."""
    rng = np.random.default_rng([0, epoch])
    images = 0
    for start in range(0, len(files), BATCH):
        batch = []
        for index in rng.permutation(len(files))[start : start + BATCH]:
            with Image.open(files[index]) as image:
                pixels = np.asarray(image.convert("RGB"))
            batch.append(augment_batch(pixels[np.newaxis], rng, recipe)[0])
        images += len(np.stack(batch).astype(np.float32))
    return images


def batches_epoch(batches: Batches, workers: int) -> int:
    with ThreadPoolExecutor(workers) as pool:
        images = sum(len(x) for x, _ in pool.map(batches.__getitem__, range(len(batches))))
    batches.on_epoch_end()
    return images


def rate(epoch, epochs: int) -> float:
    start, images = time.perf_counter(), 0
    for number in range(epochs):
        images += epoch(number)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("bench/results/batches.json"))
    arguments = parser.parse_args()
    train = load_params()["train"]
    recipes = {
        "shifts and flips": {**train["augment"]},
        "params.yaml recipe (degradations too)": {**train["augment"], **train["degrade"]},
    }
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        make_demo_dataset(root / "demo", 32, arguments.per_class, 10, seed=0)
        files = sorted((root / "demo" / "train").rglob("*.*"))
        start = time.perf_counter()
        ingest(str(root / "demo"), root / "prepared", 32, ["real", "fake"], 0.0, 0, cache_dir=root / "cache")
        ingest_seconds = time.perf_counter() - start
        images, labels = load_split(root / "prepared", "train")
        for name, recipe in recipes.items():
            naive = rate(lambda epoch, recipe=recipe: naive_epoch(files, recipe, epoch), arguments.epochs)
            measured = {"naive per-image loop": naive}
            for workers in (1, WORKERS):
                batches = Batches(images, labels, BATCH, seed=0, recipe=recipe)
                measured[f"Batches, {workers} thread(s)"] = rate(
                    lambda _, b=batches, w=workers: batches_epoch(b, w), arguments.epochs
                )
            threads = loader_options(arguments.processes)["workers"]  # as the train stage sizes them
            with Batches(images, labels, BATCH, seed=0, recipe=recipe, processes=arguments.processes) as batches:
                with ThreadPoolExecutor(threads) as pool:  # start the workers, untimed
                    list(pool.map(batches.__getitem__, range(threads)))
                measured[f"Batches, {arguments.processes} process(es)"] = rate(
                    lambda _, b=batches, w=threads: batches_epoch(b, w), arguments.epochs
                )
            for pipeline, value in measured.items():
                rows.append([name, pipeline, f"{value:,.0f}", f"{value / naive:.1f}x"])
            results[name] = measured
    print(tabulate(rows, headers=["augmentation", "pipeline", "images/s", "vs naive"]))
    print(f"one-time ingest of {len(images)} images: {ingest_seconds:.1f} s")
    result = {
        "images": len(images),
        "epochs": arguments.epochs,
        "batch_size": BATCH,
        "images_per_second": results,
        "ingest_seconds": ingest_seconds,
        "machine": f"{os.cpu_count()} CPU, {platform.processor() or platform.machine()}",
        "load_average_at_end": os.getloadavg()[0],
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
