"""The on-disk form of a decoded split: `{split}_images.npy` (uint8, N×H×W×3) and `{split}_labels.npy`.

Ingest writes it once; every trainer, evaluate, export and the pack read it.
Kept free of TensorFlow so that the accelerator trainer can import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def split_paths(data_dir: Path, split: str) -> tuple[Path, Path]:
    return data_dir / f"{split}_images.npy", data_dir / f"{split}_labels.npy"


def save_split(data_dir: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    images_path, labels_path = split_paths(data_dir, split)
    np.save(images_path, images)
    np.save(labels_path, labels)


def load_split(data_dir: Path, split: str, mmap_mode: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = split_paths(data_dir, split)
    return np.load(images_path, mmap_mode=mmap_mode), np.load(labels_path)
