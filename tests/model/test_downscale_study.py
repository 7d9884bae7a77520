"""scripts/downscale_study.py measures serving's downscale choices only if its "shipped" row is serving."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from script_loader import load_script

from imageauth import pixels, preprocess
from imageauth.preprocess import load_image

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def study():
    return load_script("scripts/downscale_study.py")


def photo(width: int, height: int, fmt: str, orientation: int = 1) -> bytes:
    rng = np.random.default_rng(width)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    exif = Image.Exif()
    exif[pixels.EXIF_ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [photo(1200, 800, "JPEG"), photo(700, 1000, "JPEG", orientation=6), photo(640, 480, "PNG"), photo(33, 40, "PNG")],
    ids=["jpeg-draft", "jpeg-rotated", "png-reduced", "png-small"],
)
def test_the_shipped_row_is_what_serving_feeds_the_model(study, data):
    shipped = study.model_input(data, 32, *study.VARIANTS[study.SHIPPED])
    np.testing.assert_array_equal(shipped, load_image(data, 32).pixels)


def test_the_other_rows_change_the_input_and_leave_serving_alone(study):
    data = photo(1200, 800, "JPEG")
    before = (pixels.REDUCING_GAP, preprocess.DRAFT_FACTOR)
    served = load_image(data, 32).pixels
    for name, choices in study.VARIANTS.items():
        if name != study.SHIPPED:
            assert not np.array_equal(study.model_input(data, 32, *choices), served), name
    assert before == (pixels.REDUCING_GAP, preprocess.DRAFT_FACTOR)
    np.testing.assert_array_equal(load_image(data, 32).pixels, served)
