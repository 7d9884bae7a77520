"""scripts/make_cifake_dev.py rebuilds the development split from a Kaggle-layout CIFAKE zip.

The shipped model's `dvc.lock` names decoded arrays of that split; a user who
downloads the Kaggle release gets them back only if the rule (official train
split alone, the lowest SHA-256 per class to test/, names kept) is followed exactly.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from script_loader import load_script


@pytest.fixture(scope="module")
def make_dev():
    return load_script("scripts/make_cifake_dev.py")


def jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture()
def kaggle_zip(tmp_path):
    """A Kaggle-layout zip under a root folder: 6 train and 2 official-test images per class."""
    files = {}
    for offset, label in enumerate(("REAL", "FAKE")):
        for index in range(6):
            files[f"cifake/train/{label}/{index:04d} ({offset}).jpg"] = jpeg(100 * offset + index)
        for index in range(2):
            files[f"cifake/test/{label}/{index:04d}.jpg"] = jpeg(1000 + 100 * offset + index)
    path = tmp_path / "kaggle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path, files


def contents(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_lowest_hashes_of_the_official_train_split_become_test(make_dev, kaggle_zip, tmp_path):
    source, files = kaggle_zip
    counts = make_dev.development_split(source, tmp_path / "dev.zip", test_per_class=2)
    built = contents(tmp_path / "dev.zip")
    assert counts == {"train": {"REAL": 4, "FAKE": 4}, "test": {"REAL": 2, "FAKE": 2}}
    for label in ("REAL", "FAKE"):
        train = {name.rsplit("/", 1)[1]: data for name, data in files.items() if f"/train/{label}/" in name}
        by_hash = sorted(train, key=lambda name: hashlib.sha256(train[name]).hexdigest())
        assert {name for name in built if name.startswith(f"test/{label}/")} == {
            f"test/{label}/{name}" for name in by_hash[:2]
        }
        assert {name for name in built if name.startswith(f"train/{label}/")} == {
            f"train/{label}/{name}" for name in by_hash[2:]
        }
        for name, data in train.items():
            split = "test" if name in by_hash[:2] else "train"
            assert built[f"{split}/{label}/{name}"] == data
    # The official test split is withheld: none of its images is in the development zip.
    official_test = {data for name, data in files.items() if "/test/" in name}
    assert official_test.isdisjoint(built.values())


def test_the_zip_depends_only_on_the_images(make_dev, kaggle_zip, tmp_path):
    source, _ = kaggle_zip
    make_dev.development_split(source, tmp_path / "first.zip", test_per_class=2)
    make_dev.development_split(source, tmp_path / "second.zip", test_per_class=2)
    assert (tmp_path / "first.zip").read_bytes() == (tmp_path / "second.zip").read_bytes()
    assert not list(tmp_path.glob("*.partial"))


def test_a_zip_without_the_train_split_is_refused(make_dev, tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images/REAL/0.jpg", jpeg(0))
    with pytest.raises(ValueError, match="train/REAL"):
        make_dev.development_split(path, tmp_path / "dev.zip")
    assert not (tmp_path / "dev.zip").exists()
