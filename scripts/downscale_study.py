"""Does the way serving shrinks a large photo decide whether the model calls it fake?

Issue 14 found that it did for the model before the robust recipe (Lanczos: 14 of 16
sample photos called fake, bilinear: 4 of 16). This script asks the same of the shipped
model on the real-photo set (`dvc repro -s real_photos`): it scores every photo with the
serving path's last steps varied one at a time (the final resampling filter, how far the
box reduction goes, libjpeg's DCT scaling), and breaks the shipped path's errors down by
the package each photo came from. A research script: it sets `pixels.REDUCING_GAP` and
`preprocess.DRAFT_FACTOR` around each of its own decodes and puts them back; serving is untouched.

    python scripts/downscale_study.py   # table on stdout, JSON in bench/results/
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "function_app"))

from imageauth import pixels, preprocess  # noqa: E402
from imageauth.model import Detector  # noqa: E402

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "downscale_study.json"
CURATED_LIST = REPO_ROOT / "training" / "real_photos.json"
NO_DRAFT = 10_000  # a draft target no photo reaches: libjpeg decodes at full size
SHIPPED = "Lanczos, box to 3x, draft to 4x (shipped)"
R = Image.Resampling
# name -> (final filter, box reduction stops at this multiple of the input, JPEG draft multiple)
VARIANTS = {
    SHIPPED: (R.LANCZOS, 3, 4),
    "bicubic, box to 3x": (R.BICUBIC, 3, 4),
    "bilinear, box to 3x": (R.BILINEAR, 3, 4),
    "Hamming, box to 3x": (R.HAMMING, 3, 4),
    "box filter, box to 3x": (R.BOX, 3, 4),
    "box all the way (area average)": (R.BOX, 1, 1),
    "Lanczos, box to 1x": (R.LANCZOS, 1, 1),
    "Lanczos, box to 3x, no draft": (R.LANCZOS, 3, NO_DRAFT),
    "bilinear, box to 3x, no draft": (R.BILINEAR, 3, NO_DRAFT),
    "Lanczos, box to 8x, no draft": (R.LANCZOS, 8, NO_DRAFT),
}


def model_input(data: bytes, size: int, final_filter: R, gap: int, draft: int) -> np.ndarray:
    """`load_image`'s steps with the three choices made here instead of in the serving modules."""
    saved = pixels.REDUCING_GAP, preprocess.DRAFT_FACTOR
    pixels.REDUCING_GAP, preprocess.DRAFT_FACTOR = gap, draft
    try:
        image = preprocess.open_image(data, size).image
        image.load()
        square = pixels.reduce_center_square(image, size)
    finally:
        pixels.REDUCING_GAP, preprocess.DRAFT_FACTOR = saved
    method = pixels.TRANSPOSE_FOR_ORIENTATION.get(pixels.exif_orientation(image))
    square = square.transpose(method) if method is not None else square
    if square.size != (size, size):
        square = square.resize((size, size), final_filter)
    return np.asarray(square, dtype=np.uint8)


def study(photo_dir: Path, detector: Detector, size: int) -> dict:
    photos = sorted(p for p in photo_dir.iterdir() if p.suffix.lower() in preprocess.IMAGE_SUFFIXES)
    files = [path.read_bytes() for path in photos]
    threshold = detector.threshold
    probabilities = {
        name: detector.predict(np.stack([model_input(data, size, *choices) for data in files])).reshape(-1)
        for name, choices in VARIANTS.items()
    }
    variants = {
        name: {
            "called_fake": int(np.sum(probability >= threshold)),
            "median_p_fake": round(float(np.median(probability)), 4),
        }
        for name, probability in probabilities.items()
    }
    by_source = _by_source([path.name for path in photos], probabilities[SHIPPED], threshold)
    return {"photos": len(photos), "threshold": threshold, "variants": variants, "shipped_by_source": by_source}


def _by_source(names: list[str], probability: np.ndarray, threshold: float) -> dict:
    """The shipped path's scores grouped by the package each photo came from, most fake-looking first."""
    source = {entry["name"]: entry["package"] for entry in json.loads(CURATED_LIST.read_text())["photos"]}
    grouped = defaultdict(list)
    for name, p in zip(names, probability, strict=True):
        grouped[source.get(name, "?")].append(float(p))
    return {
        package: {
            "photos": len(ps),
            "called_fake": sum(p >= threshold for p in ps),
            "median_p_fake": round(statistics.median(ps), 3),
        }
        for package, ps in sorted(grouped.items(), key=lambda item: -statistics.median(item[1]))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=REPO_ROOT / "data" / "real_photos")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "function_app" / "model")
    args = parser.parse_args()
    detector = Detector.from_dir(args.model)
    report = {"model_version": detector.version, **study(args.photos, detector, detector.image_size)}
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    count = report["photos"]
    rows = [
        [name, f"{row['called_fake']} of {count}", row["median_p_fake"]] for name, row in report["variants"].items()
    ]
    print(tabulate(rows, headers=["serving downscale", "called fake", "median P(fake)"]))
    sources = report["shipped_by_source"].items()
    rows = [[package, row["photos"], row["called_fake"], row["median_p_fake"]] for package, row in sources]
    print(tabulate(rows, headers=["source package (shipped path)", "photos", "called fake", "median P(fake)"]))


if __name__ == "__main__":
    main()
