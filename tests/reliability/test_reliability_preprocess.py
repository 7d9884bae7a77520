"""The bad-input corpus against the shared decode step, `imageauth.preprocess.load_image`.

Every serving surface and the training ingest call this function, so this is
where each file's outcome is decided; the API, blob and CLI tests check that
they pass it on unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from badinputs import bad_inputs, exif_jpeg, photo_like, quadrant_image, twelve_megapixel_jpeg
from PIL import Image

from imageauth.preprocess import ALLOWED_FORMATS, ImageError, load_image

SIZE = 32
REPO = Path(__file__).resolve().parents[2]

# Where the black and the grey quadrant of `quadrant_image` must end up once
# each EXIF orientation is applied, worked out from the EXIF specification
# (not from Pillow): 2 mirrors left-right, 3 turns 180 degrees, 4 mirrors
# top-bottom, 5 transposes, 6 turns 90 degrees clockwise, 7 transverses,
# 8 turns 90 degrees anticlockwise.
EXPECTED_CORNERS = {
    1: ("top_left", "top_right"),
    2: ("top_right", "top_left"),
    3: ("bottom_right", "bottom_left"),
    4: ("bottom_left", "bottom_right"),
    5: ("top_left", "bottom_left"),
    6: ("top_right", "bottom_right"),
    7: ("bottom_right", "top_right"),
    8: ("bottom_left", "top_left"),
}


def corner_means(pixels: np.ndarray) -> dict[str, float]:
    half = pixels.shape[0] // 2
    grey = pixels.astype(np.float32).mean(axis=2)
    # The inner part of each quadrant: resampling blurs the borders between them.
    inner = slice(2, half - 2), slice(half + 2, 2 * half - 2)
    return {
        "top_left": grey[inner[0], inner[0]].mean(),
        "top_right": grey[inner[0], inner[1]].mean(),
        "bottom_left": grey[inner[1], inner[0]].mean(),
        "bottom_right": grey[inner[1], inner[1]].mean(),
    }


@pytest.mark.parametrize("case", bad_inputs(), ids=lambda case: case.name)
def test_each_corpus_file_gets_its_documented_outcome(case):
    if case.is_verdict:
        image = load_image(case.data, SIZE)
        assert image.pixels.shape == (SIZE, SIZE, 3)
        assert image.pixels.dtype == np.uint8
        assert image.width > 0 and image.height > 0
        assert image.format in ALLOWED_FORMATS
    else:
        with pytest.raises(ImageError) as caught:
            load_image(case.data, SIZE)
        assert (caught.value.status, caught.value.code) == (case.status, case.code)
        assert caught.value.message


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_really_turns_the_picture(orientation):
    decoded = load_image(exif_jpeg(quadrant_image(), orientation), SIZE)
    means = corner_means(decoded.pixels)
    black, grey = EXPECTED_CORNERS[orientation]
    assert means[black] < 40, means
    assert 90 < means[grey] < 170, means
    others = set(means) - {black, grey}
    assert all(means[corner] > 215 for corner in others), means


@pytest.mark.parametrize("orientation", range(1, 9))
def test_reported_size_is_after_orientation(orientation):
    decoded = load_image(exif_jpeg(photo_like(60, 40), orientation), SIZE)
    expected = (40, 60) if orientation >= 5 else (60, 40)
    assert (decoded.width, decoded.height) == expected
    assert decoded.format == "JPEG"


def test_draft_decoding_still_reports_the_full_size():
    """A 12 MP JPEG is decoded at 1/8 scale; the caller must still see 4000 x 3000."""
    decoded = load_image(twelve_megapixel_jpeg(), SIZE)
    assert (decoded.width, decoded.height) == (4000, 3000)
    exif = Image.Exif()
    exif[0x0112] = 6
    with Image.open(io.BytesIO(twelve_megapixel_jpeg())) as image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80, exif=exif.tobytes())
    turned = load_image(buffer.getvalue(), SIZE)
    assert (turned.width, turned.height) == (3000, 4000)


def test_native_size_rgb_passes_through_untouched():
    pixels = np.random.default_rng(3).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    decoded = load_image(buffer.getvalue(), SIZE)
    np.testing.assert_array_equal(decoded.pixels, pixels)
    assert (decoded.width, decoded.height, decoded.format) == (SIZE, SIZE, "PNG")


def test_transparency_is_composited_on_white():
    buffer = io.BytesIO()
    Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0)).save(buffer, "PNG")
    assert load_image(buffer.getvalue(), SIZE).pixels.min() == 255


def test_byte_limit_is_checked_before_anything_else():
    with pytest.raises(ImageError) as caught:
        load_image(b"\0" * 101, SIZE, max_bytes=100)
    assert (caught.value.status, caught.value.code) == (413, "file_too_large")


def test_pixel_limit_is_a_setting():
    data = next(case.data for case in bad_inputs() if case.name == "one_by_10000")
    with pytest.raises(ImageError) as caught:
        load_image(data, SIZE, max_pixels=9_999)
    assert caught.value.code == "too_many_pixels"
    assert load_image(data, SIZE, max_pixels=10_000).height == 10_000


def test_docs_table_agrees_with_the_corpus():
    """docs/reliability.md lists every corpus case with the outcome the tests enforce."""
    rows = {
        line.split("|")[1].strip(): line
        for line in (REPO / "docs" / "reliability.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    for case in bad_inputs():
        key = f"`{case.name}`"
        if case.name.startswith("exif_orientation_"):
            key = "`exif_orientation_2` … `exif_orientation_8`"
        assert key in rows, f"{case.name} is missing from docs/reliability.md"
        cells = [cell.strip() for cell in rows[key].split("|")[3:5]]
        assert cells == [str(case.status), f"`{case.code}`" if case.code else "verdict"], (case.name, cells)
