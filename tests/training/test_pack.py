"""The data pack that carries the ingested training data to a GPU machine (`training.pack`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.ingest import ingest
from training.pack import array_digest, read_pack, write_pack


@pytest.fixture
def ingested(make_dataset, tmp_path: Path) -> tuple[Path, Path]:
    source = make_dataset(per_class=8, as_zip=True)
    data_dir = tmp_path / "data"
    ingest(str(source), data_dir, 32, ["real", "fake"], 0.25, seed=1, cache_dir=tmp_path / "cache")
    return data_dir, source


def test_pack_decodes_to_the_ingested_arrays(ingested, tmp_path: Path) -> None:
    data_dir, source = ingested
    pack = tmp_path / "pack.npz"
    write_pack(data_dir, source, pack)
    data = read_pack(pack, workers=2)
    assert set(data) == {"train", "val"}
    for split, (images, labels) in data.items():
        np.testing.assert_array_equal(images, np.load(data_dir / f"{split}_images.npy"))
        np.testing.assert_array_equal(labels, np.load(data_dir / f"{split}_labels.npy"))


def test_pack_refuses_pixels_that_differ_from_ingest(ingested, tmp_path: Path) -> None:
    data_dir, source = ingested
    images = np.load(data_dir / "train_images.npy")
    images[0, 0, 0, 0] ^= 1  # as if ingest had decoded with another libjpeg
    np.save(data_dir / "train_images.npy", images)
    pack = tmp_path / "pack.npz"
    write_pack(data_dir, source, pack)
    with pytest.raises(ValueError, match="other pixels"):
        read_pack(pack, workers=1)


def test_array_digest_sees_one_changed_pixel() -> None:
    images = np.zeros((2, 4, 4, 3), np.uint8)
    changed = images.copy()
    changed[1, 3, 3, 2] = 1
    assert array_digest(images) != array_digest(changed)
