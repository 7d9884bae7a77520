"""Does global contrast or colour, rather than how an image was made, move the model's verdict?

`downscale_study.py` found that the real photographs the shipped model calls fake
are the polished ones (wallpapers, shallow-focus close-ups). This script asks
whether tone is the cue: it scores the real-photo set (`dvc repro -s real_photos`)
and a seeded sample of the validation split with one tone change at a time
applied to the 32x32 model input (saturation, contrast, brightness, gamma; Pillow's
ImageEnhance), and reports how many photos are called fake and what happens to
validation accuracy per class. Validation only: no test image is used.

    python scripts/tone_study.py   # table on stdout, JSON in bench/results/
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=REPO_ROOT / "data" / "real_photos")
    parser.add_argument("--prepared", type=Path, default=REPO_ROOT / "data" / "prepared")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "function_app" / "model")
    args = parser.parse_args()
    detector = Detector.from_dir(args.model)
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in preprocess.IMAGE_SUFFIXES)
    photos = np.stack([preprocess.load_image(p.read_bytes(), detector.image_size).pixels for p in files])
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
    headers = ["tone change", "photos called fake", "median P(fake)", "val accuracy", "real -> fake", "fake -> real"]
    print(tabulate(table, headers=headers))


if __name__ == "__main__":
    main()
