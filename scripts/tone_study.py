"""Does global tone or framing, rather than how an image was made, move the model's verdict?

`downscale_study.py` found that the real photographs the shipped model calls fake
are the polished ones (wallpapers, shallow-focus close-ups). This script asks
whether tone or framing is the cue: it scores the real-photo set (`dvc repro -s
real_photos`) and a seeded sample of the validation split with one change at a
time applied to the 32x32 model input (saturation, contrast, brightness, gamma
through Pillow's ImageEnhance; a vignette either way; the surround blurred
around a sharp centre, the shallow focus of a portrait lens, or the centre
blurred instead), and reports how many photos are called fake and what happens
to validation accuracy per class. Validation only: no test image is used.

    python scripts/tone_study.py   # table on stdout, JSON in bench/results/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter
from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "function_app"))

from imageauth import preprocess  # noqa: E402
from imageauth.model import Detector  # noqa: E402

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "tone_study.json"
VALIDATION_SAMPLE = 3000
SEED = 0
Transform = Callable[[np.ndarray], np.ndarray]


def enhance(kind: str, factor: float) -> Transform:
    """Pillow's ImageEnhance `kind` (Color, Contrast, Brightness) at `factor`; 1.0 is the identity."""
    return lambda pixels: np.asarray(getattr(ImageEnhance, kind)(Image.fromarray(pixels)).enhance(factor))


def gamma(exponent: float) -> Transform:
    table = [round(255 * (value / 255) ** exponent) for value in range(256)] * 3
    return lambda pixels: np.asarray(Image.fromarray(pixels).point(table))


def _radius(size: int) -> np.ndarray:
    """Distance from the centre of a size x size image: 0 at the centre, 1 at the corners."""
    rows, cols = np.mgrid[0:size, 0:size] - (size - 1) / 2
    return np.hypot(rows, cols) / np.hypot((size - 1) / 2, (size - 1) / 2)


def vignette(strength: float) -> Transform:
    """Corners darkened by `strength` (lightened when negative), falling off with the squared radius."""

    def apply(pixels: np.ndarray) -> np.ndarray:
        gain = 1 - strength * _radius(pixels.shape[0]) ** 2
        return np.clip(np.rint(pixels * gain[..., None]), 0, 255).astype(np.uint8)

    return apply


def focus(sigma: float, sharp_centre: bool) -> Transform:
    """Gaussian blur of `sigma` on the surround, the centre kept sharp (or the reverse): shallow focus."""

    def apply(pixels: np.ndarray) -> np.ndarray:
        radius = _radius(pixels.shape[0])
        surround = np.clip((radius - 0.35) / 0.45, 0, 1)
        weight = (surround if sharp_centre else 1 - np.clip((radius - 0.2) / 0.4, 0, 1))[..., None]
        blurred = np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(sigma)), np.float32)
        return np.clip(np.rint(pixels * (1 - weight) + blurred * weight), 0, 255).astype(np.uint8)

    return apply


TRANSFORMS: dict[str, Transform] = {
    "none": lambda pixels: pixels,
    "grayscale (saturation x0)": enhance("Color", 0.0),
    "saturation x0.5": enhance("Color", 0.5),
    "saturation x1.5": enhance("Color", 1.5),
    "contrast x0.7": enhance("Contrast", 0.7),
    "contrast x1.3": enhance("Contrast", 1.3),
    "brightness x0.8": enhance("Brightness", 0.8),
    "brightness x1.2": enhance("Brightness", 1.2),
    "gamma 0.8 (lighter)": gamma(0.8),
    "gamma 1.25 (darker)": gamma(1.25),
    "vignette 0.3 (darker corners)": vignette(0.3),
    "vignette 0.6": vignette(0.6),
    "vignette -0.3 (lighter corners)": vignette(-0.3),
    "surround blurred, sigma 1": focus(1.0, sharp_centre=True),
    "surround blurred, sigma 2": focus(2.0, sharp_centre=True),
    "centre blurred, sigma 1": focus(1.0, sharp_centre=False),
}


def study(photos: np.ndarray, images: np.ndarray, labels: np.ndarray, detector: Detector) -> dict:
    """Per transform: photos called fake, validation accuracy and each class's error rate."""
    threshold = detector.threshold
    rows = {}
    for name, transform in TRANSFORMS.items():
        on_photos = detector.predict(np.stack([transform(pixels) for pixels in photos])).reshape(-1)
        called_fake = detector.predict(np.stack([transform(pixels) for pixels in images])).reshape(-1) >= threshold
        rows[name] = {
            "photos_called_fake": int(np.sum(on_photos >= threshold)),
            "photos_median_p_fake": round(float(np.median(on_photos)), 4),
            "validation_accuracy": round(float(np.mean(called_fake == (labels == 1))), 4),
            "real_called_fake": round(float(np.mean(called_fake[labels == 0])), 4),
            "fake_called_real": round(float(np.mean(~called_fake[labels == 1])), 4),
        }
    return rows


def served_photos(photo_dir: Path, size: int) -> tuple[list[Path], np.ndarray]:
    """The photographs in `photo_dir` as serving sees them: the model input `load_image` makes of each."""
    files = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in preprocess.IMAGE_SUFFIXES)
    return files, np.stack([preprocess.load_image(p.read_bytes(), size).pixels for p in files])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=REPO_ROOT / "data" / "real_photos")
    parser.add_argument("--prepared", type=Path, default=REPO_ROOT / "data" / "prepared")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "function_app" / "model")
    args = parser.parse_args()
    detector = Detector.from_dir(args.model)
    files, photos = served_photos(args.photos, detector.image_size)
    images, labels = np.load(args.prepared / "val_images.npy"), np.load(args.prepared / "val_labels.npy")
    pick = np.random.default_rng(SEED).choice(len(images), min(VALIDATION_SAMPLE, len(images)), replace=False)
    rows = study(photos, images[pick], labels[pick], detector)
    report = {"model_version": detector.version, "photos": len(files), "validation_images": len(pick), "rows": rows}
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    table = [
        [name, f"{row['photos_called_fake']} of {len(files)}", row["photos_median_p_fake"]]
        + [f"{100 * row[key]:.2f} %" for key in ("validation_accuracy", "real_called_fake", "fake_called_real")]
        for name, row in rows.items()
    ]
    headers = ["change", "photos called fake", "median P(fake)", "val accuracy", "real -> fake", "fake -> real"]
    print(tabulate(table, headers=headers))


if __name__ == "__main__":
    main()
