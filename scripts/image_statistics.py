"""Where do modern photographs sit on CIFAKE's simplest cues: colourfulness, contrast, fine detail?

The shipped model calls polished real photographs fake, and the photo patches
that fixed some of that cost missed fakes (docs/model.md). This script puts
numbers on why: for CIFAKE's two classes (validation split), the training
photographs' patches and the 94 measured photographs as served (the 32x32
centre `load_image` makes), the median of three per-image statistics, and, on
the measured photographs and the validation split's real images, the rank
correlation of each statistic with the shipped model's P(fake).

    python scripts/image_statistics.py   # table on stdout, JSON in bench/results/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "function_app"))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from tone_study import served_photos  # noqa: E402

from imageauth.model import Detector  # noqa: E402

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "image_statistics.json"


def colourfulness(images: np.ndarray) -> np.ndarray:
    """Mean over pixels of the spread between the largest and smallest channel (0 for grey)."""
    pixels = images.astype(np.float32)
    return (pixels.max(-1) - pixels.min(-1)).mean((1, 2))


def contrast(images: np.ndarray) -> np.ndarray:
    """RMS contrast: the standard deviation of the grey level over the image."""
    return images.astype(np.float32).mean(-1).std((1, 2))


def fine_detail(images: np.ndarray) -> np.ndarray:
    """Mean absolute 4-neighbour Laplacian of the grey level: high where there is sharp detail."""
    grey = images.astype(np.float32).mean(-1)
    centre = grey[:, 1:-1, 1:-1]
    laplacian = 4 * centre - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1] - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]
    return np.abs(laplacian).mean((1, 2))


STATISTICS = {"colourfulness": colourfulness, "contrast": contrast, "fine detail": fine_detail}


def describe(groups: dict[str, np.ndarray], p_fake: dict[str, np.ndarray]) -> dict:
    """Medians of each statistic per group; for the groups in `p_fake`, each statistic's rank correlation with it."""
    values = {group: {name: f(images) for name, f in STATISTICS.items()} for group, images in groups.items()}
    medians = {
        group: {"images": len(groups[group])} | {name: round(float(np.median(v)), 2) for name, v in stats.items()}
        for group, stats in values.items()
    }
    correlations = {
        group: {name: round(float(spearmanr(v, scores).statistic), 3) for name, v in values[group].items()}
        for group, scores in p_fake.items()
    }
    return {"medians": medians, "spearman_with_p_fake": correlations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=REPO_ROOT / "data" / "real_photos")
    parser.add_argument("--patches", type=Path, default=REPO_ROOT / "data" / "photo_patches")
    parser.add_argument("--prepared", type=Path, default=REPO_ROOT / "data" / "prepared")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "function_app" / "model")
    args = parser.parse_args()
    detector = Detector.from_dir(args.model)
    photos = served_photos(args.photos, detector.image_size)[1]
    images, labels = np.load(args.prepared / "val_images.npy"), np.load(args.prepared / "val_labels.npy")
    groups = {
        "CIFAKE real (validation)": images[labels == 0],
        "CIFAKE fake (validation)": images[labels == 1],
        "training photographs' patches": np.load(args.patches / "images.npy"),
        "measured photographs, served": photos,
    }
    scored = ("measured photographs, served", "CIFAKE real (validation)")
    p_fake = {group: detector.predict(groups[group]).reshape(-1) for group in scored}
    report = {"model_version": detector.version, **describe(groups, p_fake)}
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    names = list(STATISTICS)
    rows = [[group, m["images"], *(m[n] for n in names)] for group, m in report["medians"].items()]
    print(tabulate(rows, ["median of", "images", *names]))
    print()
    rows = [[g, *(c[n] for n in names)] for g, c in report["spearman_with_p_fake"].items()]
    print(tabulate(rows, ["rank correlation with P(fake)", *names]))


if __name__ == "__main__":
    main()
