"""Fixed, seeded perturbations of the test images, and the robustness table the evaluate stage writes.

A detector that keys on sharpness rather than on how an image was made loses
its accuracy under ordinary handling: re-compression, a resize, a little blur.
Each perturbation here is a plain function of a uint8 batch (N, 32, 32, 3) to a
uint8 batch of the same shape, with no randomness left free, so the table is
the same on every run and `dvc metrics diff` compares like with like:

- `jpeg_q90`, `jpeg_q75`, `jpeg_q50`: one Pillow JPEG round trip (4:2:0, Pillow's defaults).
- `resize_0.75`: down to 24 px and back to 32 px, bicubic both ways (Pillow's bicubic
  is antialiased when shrinking), the common filter of image editors and browsers.
- `thumbnail_256`: up to 256 px with bicubic, saved losslessly (BMP), then read back
  through `imageauth.preprocess.load_image`: exactly what serving does to an
  upscaled copy of the image, and nothing else.
- `blur_0.5`, `blur_1.0`: Gaussian blur with that sigma in pixels (reflect padding).
- `noise_3`: additive Gaussian noise, sigma 3 on the 0-255 scale, from a fixed seed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from imageauth.preprocess import IMAGE_SUFFIXES, load_image
from training.augment import jpeg_round_trip

NOISE_SEED = 20200  # Fixed so that every run adds the same noise to the same images.

Perturbation = Callable[[np.ndarray], np.ndarray]
PredictProbability = Callable[[np.ndarray], np.ndarray]


def _per_image(images: np.ndarray, transform: Callable[[Image.Image], np.ndarray]) -> np.ndarray:
    """Apply a Pillow transform to each image of a uint8 batch; the result keeps shape and dtype."""
    images = np.asarray(images, dtype=np.uint8)
    result = np.empty_like(images)
    for index, pixels in enumerate(images):
        result[index] = transform(Image.fromarray(pixels))
    return result


def _resize_round_trip(image: Image.Image, scale: float) -> np.ndarray:
    side = image.width
    small = image.resize((round(side * scale),) * 2, Image.Resampling.BICUBIC)
    return np.asarray(small.resize((side, side), Image.Resampling.BICUBIC))


def _served_thumbnail(image: Image.Image, size: int) -> np.ndarray:
    buffer = io.BytesIO()
    # BMP rather than PNG: both are lossless, so `load_image` sees the same pixels, but BMP
    # costs nothing to write or read, which keeps 10,000 images to seconds instead of minutes.
    image.resize((size, size), Image.Resampling.BICUBIC).save(buffer, format="BMP")
    return load_image(buffer.getvalue(), image.width).pixels


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    """Encode each image as JPEG at `quality` and decode it again."""
    return _per_image(images, lambda image: np.asarray(jpeg_round_trip(image, quality)))


def resize_round_trip(images: np.ndarray, scale: float) -> np.ndarray:
    """Shrink each image by `scale` and enlarge it back, bicubic both ways."""
    return _per_image(images, partial(_resize_round_trip, scale=scale))


def served_thumbnail(images: np.ndarray, size: int) -> np.ndarray:
    """Enlarge each image to `size` px (bicubic) and bring it back through the serving path."""
    return _per_image(images, partial(_served_thumbnail, size=size))


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Blur every image with a Gaussian of `sigma` pixels (the batch and channel axes untouched)."""
    blurred = gaussian_filter(np.asarray(images, dtype=np.float32), sigma=(0, sigma, sigma, 0), mode="reflect")
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def gaussian_noise(images: np.ndarray, sigma: float, seed: int = NOISE_SEED) -> np.ndarray:
    """Add Gaussian noise of `sigma` (0-255 scale) drawn from a generator seeded with `seed`."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=np.shape(images)).astype(np.float32)
    return np.clip(np.rint(np.asarray(images, dtype=np.float32) + noise), 0, 255).astype(np.uint8)


PERTURBATIONS: dict[str, Perturbation] = {
    "jpeg_q90": partial(jpeg, quality=90),
    "jpeg_q75": partial(jpeg, quality=75),
    "jpeg_q50": partial(jpeg, quality=50),
    "resize_0.75": partial(resize_round_trip, scale=0.75),
    "thumbnail_256": partial(served_thumbnail, size=256),
    "blur_0.5": partial(gaussian_blur, sigma=0.5),
    "blur_1.0": partial(gaussian_blur, sigma=1.0),
    "noise_3": partial(gaussian_noise, sigma=3.0),
}


def verdict_row(
    condition: str, labels: np.ndarray, probability: np.ndarray, threshold: float, clean_fake: np.ndarray
) -> dict:
    """One table row; label 1 is fake, and a probability at or above the threshold is a fake verdict."""
    labels = np.asarray(labels).astype(int).reshape(-1)
    probability = np.asarray(probability, dtype=np.float64).reshape(-1)
    called_fake = probability >= threshold
    real, fake = labels == 0, labels == 1
    return {
        "condition": condition,
        "accuracy": float(np.mean(called_fake == fake)),
        # ROC-AUC needs both classes; with one it is undefined rather than 0 or 1.
        "roc_auc": float(roc_auc_score(labels, probability)) if real.any() and fake.any() else float("nan"),
        "false_positive_rate": float(np.mean(called_fake[real])) if real.any() else float("nan"),
        "false_negative_rate": float(np.mean(~called_fake[fake])) if fake.any() else float("nan"),
        "flipped_vs_clean": float(np.mean(called_fake != clean_fake)),
    }


def robustness_table(
    images: np.ndarray,
    labels: np.ndarray,
    predict_probability: PredictProbability,
    threshold: float,
    clean_probability: np.ndarray | None = None,
    perturbations: dict[str, Perturbation] | None = None,
) -> list[dict]:
    """Score the clean images, then each perturbed copy; one row per condition, "clean" first.

    `predict_probability` maps a (N, 32, 32, 3) batch to P(fake); `clean_probability`
    saves predicting the clean images again when the caller already has them.
    """
    perturbations = PERTURBATIONS if perturbations is None else perturbations
    if clean_probability is None:
        clean_probability = predict_probability(images)
    clean_fake = np.asarray(clean_probability).reshape(-1) >= threshold
    rows = [verdict_row("clean", labels, clean_probability, threshold, clean_fake)]
    for name, perturb in tqdm(perturbations.items(), desc="robustness", unit="condition"):
        probability = predict_probability(perturb(images))
        rows.append(verdict_row(name, labels, probability, threshold, clean_fake))
    return rows


def real_photo_rate(
    photo_dir: Path, predict_probability: PredictProbability, threshold: float, image_size: int
) -> dict:
    """Share of the real photos in `photo_dir` called fake after `load_image`, with each file's P(fake)."""
    files = sorted(p for p in Path(photo_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no photos in {photo_dir}: run `python -m training.real_photos` first")
    pixels = np.stack([load_image(path.read_bytes(), image_size).pixels for path in files])
    probability = np.asarray(predict_probability(pixels), dtype=np.float64).reshape(-1)
    called_fake = int(np.sum(probability >= threshold))
    return {
        "count": len(files),
        "called_fake": called_fake,
        "share_called_fake": called_fake / len(files),
        "probabilities": {path.name: float(p) for path, p in zip(files, probability, strict=True)},
    }
