"""Builders for small Kaggle-layout datasets ({train,test}/{REAL,FAKE}) made at test time."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def image_bytes(pixels: np.ndarray, image_format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def pixels_for(seed: int, label: str, size: int = 32) -> np.ndarray:
    """Distinct pixels per seed; "fake" images are brighter, so a model can tell them apart."""
    rng = np.random.default_rng(seed)
    low, high = (0, 160) if label == "REAL" else (96, 256)
    return rng.integers(low, high, (size, size, 3), dtype=np.uint8)


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Write a dataset folder (or zip) of `per_class` PNGs per split and class; extra files by path."""

    def build(per_class: int = 6, extra: dict[str, bytes] | None = None, as_zip: bool = False) -> Path:
        files: dict[str, bytes] = {}
        seed = 0
        for split in ("train", "test"):
            for label in ("REAL", "FAKE"):
                for index in range(per_class):
                    seed += 1
                    files[f"{split}/{label}/{index:03d}.png"] = image_bytes(pixels_for(seed, label), "PNG")
        files.update(extra or {})
        if as_zip:
            path = tmp_path / "dataset.zip"
            with zipfile.ZipFile(path, "w") as archive:
                for name, data in files.items():
                    archive.writestr(f"cifake/{name}", data)
            return path
        root = tmp_path / "dataset"
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        return root

    return build


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory) -> tuple[Path, Path]:
    """A small model exported as the pipeline ships one: (its folder, the float weights it was made from)."""
    from small_models import distinct_model, export_like_the_pipeline

    root = tmp_path_factory.mktemp("exported")
    model = distinct_model(seed=11)
    model.save_weights(root / "original.weights.h5")
    export_like_the_pipeline(model, root / "model", temperature=0.5)
    return root / "model", root / "original.weights.h5"
