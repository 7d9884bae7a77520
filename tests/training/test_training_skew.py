"""Train/serve skew: the pixels the model trains on are the pixels it is served, bit for bit.

The training side is the ingest stage's arrays; the serving side is
`imageauth.predict.predict_bytes`, the core behind the HTTP API, the blob
trigger and the CLI. Odd files (EXIF rotation, large JPEG decoded in draft
mode, alpha, 16-bit, CMYK, palette) are where two implementations would differ.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from PIL import Image

from imageauth.model import Detector
from imageauth.predict import predict_bytes
from imageauth.settings import Settings
from training.ingest import ingest


def _save(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def odd_files() -> dict[str, bytes]:
    rng = np.random.default_rng(11)
    photo = Image.fromarray(rng.integers(0, 256, (600, 900, 3), dtype=np.uint8)).resize((1800, 1200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    grey16 = Image.fromarray((rng.integers(0, 65535, (40, 50))).astype(np.uint16))
    rgba = Image.fromarray(rng.integers(0, 256, (45, 30, 4), dtype=np.uint8), "RGBA")
    palette = Image.fromarray(rng.integers(0, 256, (33, 33, 3), dtype=np.uint8)).convert("P")
    cmyk = Image.fromarray(rng.integers(0, 256, (64, 48, 4), dtype=np.uint8), "CMYK")
    return {
        "test/REAL/large_rotated.jpg": _save(photo, "JPEG", quality=90, exif=exif),
        "test/REAL/grey16.png": _save(grey16, "PNG"),
        "test/FAKE/alpha.png": _save(rgba, "PNG"),
        "test/FAKE/palette.gif": _save(palette, "GIF"),
        "test/FAKE/cmyk.jpg": _save(cmyk, "JPEG"),
    }


def test_training_arrays_and_serving_core_agree_on_every_file(make_dataset, tmp_path):
    extra = odd_files()
    source = make_dataset(per_class=2, extra=extra)
    output = tmp_path / "prepared"
    ingest(str(source), output, 32, ["real", "fake"], 0.0, 0, cache_dir=tmp_path / "cache")

    with open(output / "manifest.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    train_side = np.load(output / "test_images.npy")
    detector = Detector.from_dir()
    settings = Settings()
    assert {row["path"] for row in rows} >= set(extra)

    for row, pixels in zip(rows, train_side, strict=True):
        data = (source / row["path"]).read_bytes()
        served = predict_bytes(data, row["path"], settings)
        trained_on = float(detector.predict(pixels)[0])
        assert served["probability_fake"] == trained_on, row["path"]
        assert (served["width"], served["height"]) == (int(row["width"]), int(row["height"]))

    rotated = next(row for row in rows if row["path"].endswith("large_rotated.jpg"))
    assert (int(rotated["width"]), int(rotated["height"])) == (1200, 1800)  # EXIF rotation applied
