"""Stage `demo_data`: a small, deterministic, learnable real-vs-fake dataset in the Kaggle layout.

This is NOT CIFAKE. It exists so that the whole pipeline runs offline in
minutes (tests, CI, a first `dvc repro`).

- "real": random crops, at random scales, of the two photographs that ship
  inside scikit-learn (`sklearn.datasets.load_sample_images`: a Chinese
  temple and a flower), resized to `image_size` with Lanczos.
- "fake": a crude generative model fitted to those photographs: each image is
  a different crop reduced to 8x8 (the "latent"), decoded back by bilinear
  upsampling, with the colour noise measured on real crops added back and a
  faint 2-pixel checkerboard, the signature of transposed-convolution
  upsampling in image generators.

Both classes are saved as JPEG (quality 90) so the file format says nothing
about the label. The same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images
from tqdm import tqdm

from training.params import load_params

LATENT_SIZE = 8
CHECKERBOARD_AMPLITUDE = 12.0


def _random_crop(photo: np.ndarray, rng: np.random.Generator, size: int) -> Image.Image:
    height, width = photo.shape[:2]
    side = int(rng.integers(size + size // 2, min(height, width) // 2))
    top = int(rng.integers(0, height - side))
    left = int(rng.integers(0, width - side))
    crop = Image.fromarray(photo[top : top + side, left : left + side])
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return crop.resize((size, size), Image.Resampling.LANCZOS)


def _noise_level(photos: list[np.ndarray], rng: np.random.Generator, size: int) -> float:
    """High-frequency energy of real crops: what the fake generator adds back as noise."""
    residuals = []
    for _ in range(64):
        crop = np.asarray(_random_crop(photos[int(rng.integers(len(photos)))], rng, size), np.float32)
        smooth = np.asarray(
            Image.fromarray(crop.astype(np.uint8))
            .resize((LATENT_SIZE, LATENT_SIZE), Image.Resampling.BOX)
            .resize((size, size), Image.Resampling.BILINEAR),
            np.float32,
        )
        residuals.append((crop - smooth).std())
    return float(np.mean(residuals))


def _fake(photo: np.ndarray, rng: np.random.Generator, size: int, noise: float) -> Image.Image:
    latent = _random_crop(photo, rng, size).resize((LATENT_SIZE, LATENT_SIZE), Image.Resampling.BOX)
    decoded = np.asarray(latent.resize((size, size), Image.Resampling.BILINEAR), np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    checkerboard = np.where(((yy // 2) + (xx // 2)) % 2 == 0, 1.0, -1.0)[..., None]
    pixels = decoded + rng.normal(0, noise * 0.5, decoded.shape) + CHECKERBOARD_AMPLITUDE * checkerboard
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8))


def make_demo_dataset(
    output_dir: Path, image_size: int, train_per_class: int, test_per_class: int, seed: int
) -> dict[str, int]:
    photos = [np.asarray(image) for image in load_sample_images().images]
    rng = np.random.default_rng(seed)
    noise = _noise_level(photos, rng, image_size)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    counts = {}
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label in ("REAL", "FAKE"):
            folder = output_dir / split / label
            folder.mkdir(parents=True)
            for index in tqdm(range(count), desc=f"{split}/{label}", unit="img"):
                photo = photos[index % len(photos)]
                image = (
                    _random_crop(photo, rng, image_size) if label == "REAL" else _fake(photo, rng, image_size, noise)
                )
                image.save(folder / f"{index:05d}.jpg", quality=90)
            counts[f"{split}/{label}"] = count
    return counts


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    params = load_params()
    section = params["demo_data"]
    counts = make_demo_dataset(
        Path(section["output_dir"]),
        params["base"]["image_size"],
        section["train_per_class"],
        section["test_per_class"],
        params["base"]["seed"],
    )
    print(counts)


if __name__ == "__main__":
    main()
