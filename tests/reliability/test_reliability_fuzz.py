"""Property-based fuzzing of the decode-and-preprocess entry point.

Whatever bytes arrive, `load_image` returns model-ready pixels or raises its
own `ImageError` with a documented code, and does so quickly. Anything else
(a bare `OSError`, a `MemoryError`, a hang) would become a 500 or a stuck
worker on the API and a poison message on the blob trigger.

The default run is short so the test command stays fast; set
`IMAGEAUTH_FUZZ_EXAMPLES=20000` for a long run (see docs/reliability.md), or
use the coverage-guided atheris target in `fuzz/`.
"""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import numpy as np
from badinputs import heic, photo_like
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imageauth.preprocess import DecodedImage, ImageError, load_image

SIZE = 32
MAX_PIXELS = 4_000_000
SECONDS_PER_INPUT = 2.0
DOCUMENTED = {
    ("empty_file", 400),
    ("file_too_large", 413),
    ("too_many_pixels", 413),
    ("unsupported_media_type", 415),
    ("undecodable_image", 415),
    # The budgets of docs/reliability.md, section 7: a mutated size field or repeated bytes can trip them.
    ("decode_too_large", 413),
    ("image_too_complex", 422),
    ("extreme_aspect_ratio", 422),
}
EXAMPLES = int(os.environ.get("IMAGEAUTH_FUZZ_EXAMPLES", "250"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=SECONDS_PER_INPUT * 2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",
)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _seeds() -> list[bytes]:
    picture = photo_like(24, 18, seed=5)
    frames = [picture, photo_like(24, 18, seed=6)]
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        _encode(picture, "JPEG", quality=85, exif=exif.tobytes()),
        _encode(picture, "JPEG", quality=85, progressive=True),
        _encode(picture, "PNG"),
        _encode(picture.convert("P"), "PNG", transparency=3),
        _encode(picture.convert("P"), "GIF", save_all=True, append_images=[f.convert("P") for f in frames]),
        _encode(picture, "WEBP", quality=80),
        _encode(picture, "WEBP", save_all=True, append_images=frames, lossless=True),
        _encode(picture, "BMP"),
        _encode(picture, "TIFF", compression="tiff_lzw"),
        _encode(picture.convert("CMYK"), "TIFF", save_all=True, append_images=[picture]),
        _encode(Image.new("I;16", (24, 18), 30000), "PNG"),
        _encode(picture, "AVIF", quality=70),
        _encode(picture.convert("RGBA"), "AVIF", save_all=True, append_images=[picture.convert("RGBA")]),
        heic(picture, quality=70, exif=exif.tobytes()),
        heic(picture.convert("RGBA"), quality=70),
    ]


SEEDS = _seeds()
SIGNATURES = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"RIFF\0\0\0\0WEBP",
    b"BM",
    b"II*\0",
    b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf",
    b"\0\0\0\x1cftypheic\0\0\0\0mif1heicmiaf",
]


@st.composite
def mutated_images(draw) -> bytes:
    """A valid seed image with a few byte-level edits: flips, overwrites, cuts, repeats, splices."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "overwrite", "truncate", "delete", "duplicate", "insert"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[position : position + len(chunk)] = chunk
        elif kind == "truncate":
            del data[position:]
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 64))]
        elif kind == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 256))]
        else:
            # Large values in size fields are the classic trigger of huge allocations.
            data[position:position] = draw(st.sampled_from([b"\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0"]))
    return bytes(data)


def _check_contract(data: bytes) -> None:
    started = time.perf_counter()
    try:
        result = load_image(data, SIZE, max_pixels=MAX_PIXELS)
    except ImageError as error:
        assert (error.code, error.status) in DOCUMENTED, (error.code, error.status)
        assert error.message
    else:
        assert isinstance(result, DecodedImage)
        assert result.pixels.shape == (SIZE, SIZE, 3)
        assert result.pixels.dtype == np.uint8
        assert 0 < result.width * result.height <= MAX_PIXELS
    # Any other exception type propagates and fails the property.
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_INPUT, f"{elapsed:.2f} s for {len(data)} bytes"


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_a_result_or_an_image_error(data):
    _check_contract(data)


@FUZZ
@given(st.sampled_from(SIGNATURES), st.binary(max_size=512))
def test_a_valid_signature_with_garbage_behind_it(signature, tail):
    _check_contract(signature + tail)


@FUZZ
@given(mutated_images())
def test_mutated_valid_images_give_a_result_or_an_image_error(data):
    _check_contract(data)


def test_every_seed_is_a_valid_image():
    for data in SEEDS:
        assert load_image(data, SIZE).pixels.shape == (SIZE, SIZE, 3)
