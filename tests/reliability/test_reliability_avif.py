"""AVIF, the newest format the service reads: what its decoder may cost and what the model is told.

The corpus files (a still, a sequence, a truncated file, header bombs) go through every
serving surface in `badinputs.py` and `amplification.py`; these are the AVIF-only rules.
Files are encoded here with Pillow's own AVIF encoder (libavif + aom).
"""

from __future__ import annotations

import io
import os

from PIL import Image

from imageauth.predict import predict_bytes
from imageauth.preprocess import open_image
from imageauth.settings import Settings

ORIENTATION_TAG = 0x0112


def encode(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "AVIF", quality=70, speed=10, **options)
    return buffer.getvalue()


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_an_avif_decodes_on_one_thread():
    """libavif starts a thread per core by default and keeps them while the file is open: one
    upload would take every core of the instance."""
    data = encode(Image.radial_gradient("L").resize((1600, 1200)).convert("RGB"))
    before = threads()
    opened = open_image(data, 32)
    try:
        opened.image.load()
        assert threads() == before
    finally:
        opened.close()


def test_avif_rotation_is_applied_like_exif_orientation():
    """Pillow reports AVIF's `irot` box as EXIF orientation; the reported size is the upright one."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # written as `irot` by the encoder
    item = predict_bytes(encode(Image.new("RGB", (80, 40), "red"), exif=exif.tobytes()), "turned.avif", Settings())
    assert (item["width"], item["height"]) == (40, 80)


def test_an_avif_sequence_and_alpha_are_noted():
    frames = [Image.new("RGB", (40, 30), colour) for colour in ("red", "blue")]
    sequence = predict_bytes(encode(frames[0], save_all=True, append_images=frames[1:]), "clip.avif", Settings())
    assert "only the first frame" in sequence["note"].lower()
    transparent = predict_bytes(encode(Image.new("RGBA", (40, 30), (0, 0, 255, 0))), "alpha.avif", Settings())
    assert "filled with white" in transparent["note"].lower()
