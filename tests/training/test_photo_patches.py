"""The photo_patches stage: every patch is a serving-path input of its photo, drawn reproducibly."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imageauth.preprocess import load_image
from training import photo_patches


def _photo(path: Path, seed: int, size: tuple[int, int] = (480, 320)) -> bytes:
    """A picture whose every region differs (a smooth gradient plus seeded noise), saved as JPEG."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([xs * 255 // size[0], ys * 255 // size[1], (xs + ys) % 256], axis=-1)
    pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=92)
    return path.read_bytes()


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    _photo(folder / "a.jpg", 1)
    _photo(folder / "b.jpg", 2, (300, 500))
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_first_row_is_the_photo_as_served_and_the_rest_differ(photos: Path, tmp_path: Path) -> None:
    manifest = photo_patches.make_photo_patches(photos, tmp_path / "out", crops_per_photo=6, size=32, seed=7)
    images = np.load(tmp_path / "out/images.npy")
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8
    assert manifest == [{"file": "a.jpg", "first_row": 0, "rows": 6}, {"file": "b.jpg", "first_row": 6, "rows": 6}]
    assert json.loads((tmp_path / "out/manifest.json").read_text()) == manifest
    for entry in manifest:
        served = load_image((photos / entry["file"]).read_bytes(), 32).pixels
        rows = images[entry["first_row"] : entry["first_row"] + entry["rows"]]
        np.testing.assert_array_equal(rows[0], served)
        assert len({row.tobytes() for row in rows}) == len(rows), "random squares repeat the served view"


def test_each_crop_goes_through_the_serving_path(photos: Path) -> None:
    """A patch equals `load_image` of its square cut from the photo, whatever its size."""
    data = (photos / "a.jpg").read_bytes()
    rows = photo_patches.patches_of(data, "a.jpg", 4, 32, seed=3)
    squares = photo_patches.random_squares(480, 320, 3, photo_patches.photo_rng(3, "a.jpg"))
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    for row, (left, top, side) in zip(rows[1:], squares, strict=True):
        buffer = io.BytesIO()
        picture.crop((left, top, left + side, top + side)).save(buffer, format="PNG")
        np.testing.assert_array_equal(row, load_image(buffer.getvalue(), 32).pixels)


def test_squares_stay_inside_and_span_a_quarter_to_all_of_the_short_side() -> None:
    squares = photo_patches.random_squares(900, 400, 2000, np.random.default_rng(0))
    sides = np.array([side for _, _, side in squares])
    assert all(left >= 0 and top >= 0 and left + side <= 900 and top + side <= 400 for left, top, side in squares)
    assert sides.min() >= 100 and sides.max() <= 400
    # Log-uniform: as many squares below the geometric middle (200 px) as above it.
    assert 0.4 < np.mean(sides < 200) < 0.6


def test_draws_depend_on_the_seed_and_each_photo_alone(photos: Path, tmp_path: Path) -> None:
    first = photo_patches.make_photo_patches(photos, tmp_path / "one", 5, 32, seed=7)
    again = photo_patches.make_photo_patches(photos, tmp_path / "two", 5, 32, seed=7)
    np.testing.assert_array_equal(np.load(tmp_path / "one/images.npy"), np.load(tmp_path / "two/images.npy"))
    other_seed = photo_patches.make_photo_patches(photos, tmp_path / "three", 5, 32, seed=8)
    assert not np.array_equal(np.load(tmp_path / "one/images.npy")[1:5], np.load(tmp_path / "three/images.npy")[1:5])
    assert first == again == other_seed
    _photo(photos / "0_first.jpg", 3)  # sorts before the others: every row moves, no draw changes
    photo_patches.make_photo_patches(photos, tmp_path / "four", 5, 32, seed=7)
    np.testing.assert_array_equal(np.load(tmp_path / "four/images.npy")[5:], np.load(tmp_path / "one/images.npy"))


def test_refuses_an_empty_folder_and_no_crops(tmp_path: Path, photos: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no photographs"):
        photo_patches.make_photo_patches(tmp_path / "empty", tmp_path / "out", 4, 32, 0)
    with pytest.raises(ValueError, match="at least 1"):
        photo_patches.make_photo_patches(photos, tmp_path / "out", 0, 32, 0)
