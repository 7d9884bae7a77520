"""Ingest from local folders and zips: decode once, report bad files, fail clearly on a missing class."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from training.ingest import ingest


def run_ingest(source, output_dir, **overrides):
    arguments = dict(image_size=32, labels=["real", "fake"], val_fraction=0.25, seed=3)
    arguments.update(overrides)
    return ingest(str(source), output_dir, cache_dir=output_dir / "cache", **arguments)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_ingest_writes_arrays_manifest_and_report(make_dataset, tmp_path, as_zip):
    source = make_dataset(per_class=8, as_zip=as_zip)
    output = tmp_path / "prepared"
    report = run_ingest(source, output)

    assert report["counts"] == {
        "train": {"fake": 6, "real": 6},
        "val": {"fake": 2, "real": 2},
        "test": {"fake": 8, "real": 8},
    }
    with open(output / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for split in ("train", "val", "test"):
        images = np.load(output / f"{split}_images.npy")
        labels = np.load(output / f"{split}_labels.npy")
        split_rows = [row for row in rows if row["split"] == split]
        assert images.shape == (len(split_rows), 32, 32, 3) and images.dtype == np.uint8
        assert labels.tolist() == [["real", "fake"].index(row["label"]) for row in split_rows]
    assert json.loads((output / "report.json").read_text())["rejected_count"] == 0


def test_corrupt_and_non_image_files_are_reported_and_left_out(make_dataset, tmp_path):
    good = make_dataset(per_class=4)
    jpeg = (good / "train/REAL/000.png").read_bytes()
    (good / "train/REAL/truncated.png").write_bytes(jpeg[: len(jpeg) // 2])
    (good / "train/FAKE/text.jpg").write_bytes(b"this is not an image")
    report = run_ingest(good, tmp_path / "prepared", val_fraction=0.0)

    rejected = {item["path"]: item["code"] for item in report["rejected"]}
    assert rejected == {
        "train/REAL/truncated.png": "undecodable_image",
        "train/FAKE/text.jpg": "unsupported_media_type",
    }
    assert report["counts"]["train"] == {"fake": 4, "real": 4}


def test_every_format_serving_reads_is_ingested(make_dataset, tmp_path):
    """Ingest takes what serving reads (AVIF too), decoded by the same `load_image`."""
    source = make_dataset(per_class=4)
    picture = Image.open(source / "train/REAL/000.png")
    picture.save(source / "train/REAL/phone.avif", quality=90)
    picture.save(source / "train/REAL/scan.tiff")
    report = run_ingest(source, tmp_path / "prepared", val_fraction=0.0)
    assert report["counts"]["train"] == {"fake": 4, "real": 6} and report["rejected_count"] == 0


def test_missing_class_fails_with_a_message_naming_the_path(make_dataset, tmp_path):
    source = make_dataset(per_class=3)
    for file in (source / "test/FAKE").iterdir():
        file.unlink()
    with pytest.raises(ValueError, match=r"FAKE.*test/ of .*dataset"):
        run_ingest(source, tmp_path / "prepared")


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-dataset"):
        run_ingest(tmp_path / "no-such-dataset", tmp_path / "prepared")
