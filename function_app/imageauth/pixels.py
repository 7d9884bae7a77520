"""Pixel work of the shared preprocessing (`imageauth.preprocess`, steps 5-6): colour modes, the
centred square reduced in bands, EXIF orientation.

Kept apart from the decoding and its bounds so that each file holds one job;
training and serving reach it only through `preprocess.load_image`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Box reduction stops at this multiple of the target size; Lanczos does the rest (Pillow's `reducing_gap`).
REDUCING_GAP = 3
# Rows converted at a time: a band of a 50-megapixel square is a few megabytes.
BAND_PIXELS = 1 << 20
EXIF_ORIENTATION = 0x0112
# Modes whose `transparency` is one colour (Pillow promotes it to an alpha channel on conversion).
COLOUR_KEY_MODES = ("1", "L", "RGB", "I", "I;16", "I;16B", "I;16L", "I;16N")
TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8); 1 when absent or unreadable."""
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a corrupt EXIF block must not lose the picture
        return 1


def to_rgb(image: Image.Image) -> Image.Image:
    """Map any Pillow mode to 8-bit RGB in the one documented way (`imageauth.preprocess`, step 5)."""
    mode = image.mode
    # A colour key (PNG tRNS in a grey or RGB image, as optipng writes for binary alpha) is transparency too.
    key = image.info.get("transparency") if mode in COLOUR_KEY_MODES else None
    if mode == "RGB" and key is None:
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image)
        grey = values.astype(np.float64)
        # Float greys are taken as already 0-255; integer greys as 16-bit (0-65535).
        grey = np.clip(grey, 0, 255) if mode == "F" else np.clip(grey, 0, 65535) / 257.0
        if isinstance(key, int):
            grey[values == key] = 255
        return Image.fromarray(np.round(grey).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info) or key is not None:
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        # Pasting through the alpha channel onto white gives alpha_composite's pixels exactly,
        # with two images instead of four (each band is allocated anew).
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, (0, 0), rgba)
        return background
    return image.convert("RGB")


def reduce_center_square(image: Image.Image, size: int) -> Image.Image:
    """The largest centred square in RGB, box-reduced to no less than `REDUCING_GAP` x `size`.

    Bands of rows are cut, converted and reduced one at a time, so memory
    beyond the decoded image is a band plus the small result. The square's
    side is trimmed to a multiple of the reduction factor (at most factor - 1
    pixels), so every output pixel averages a full block.
    """
    width, height = image.size
    factor = max(1, min(width, height) // (size * REDUCING_GAP))
    side = min(width, height) // factor * factor
    left, top = (width - side) // 2, (height - side) // 2
    if factor == 1:
        return to_rgb(image.crop((left, top, left + side, top + side)))
    if image.mode == "RGB" and "transparency" not in image.info:
        return image.reduce(factor, box=(left, top, left + side, top + side))
    result = Image.new("RGB", (side // factor, side // factor))
    band = max(1, BAND_PIXELS // (side * factor)) * factor
    for y in range(0, side, band):
        rows = min(band, side - y)
        piece = to_rgb(image.crop((left, top + y, left + side, top + y + rows)))
        result.paste(piece.reduce(factor), (0, y // factor))
    return result
