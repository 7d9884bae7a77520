"""The one preprocessing definition shared by training and serving.

Training (`training.ingest`) and every serving path (HTTP API, blob trigger,
CLI) turn image bytes into model input by calling `load_image`, and nothing
else. The model graph does the rest (VGG16's own `preprocess_input`), so a
train/serve skew can only come from this file, and `tests/test_skew.py`
checks both sides against it.

The model input is RGB uint8 pixels, `size` x `size`, made as follows:

1. Only JPEG, PNG, WebP, GIF, BMP and TIFF are opened; anything else is
   `unsupported_media_type` (415). A file that starts with one of those
   formats' signatures but cannot be opened is corrupt, not foreign:
   `undecodable_image` (415).
2. The pixel count from the header is checked *before* decoding, so a
   decompression bomb costs a header read, not gigabytes (413).
3. Large JPEGs are decoded with libjpeg's DCT scaling ("draft" mode) to no
   less than 4x the target size: same picture, a fraction of the work.
4. Multi-frame files (animated GIF/WebP, multi-page TIFF) use their first frame.
5. EXIF orientation is applied; a corrupt EXIF block counts as "no rotation".
6. Colour modes are mapped to RGB in one way: transparency is composited on
   white, 16-bit and 32-bit greys are scaled from the 16-bit range, every
   other mode goes through Pillow's own conversion.
7. The largest centred square is cropped and resized to `size` x `size` with
   Lanczos filtering (aspect ratio kept, no distortion). A square input of the
   target size - all of CIFAKE - passes through untouched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 50_000_000
DRAFT_FACTOR = 4
# Leading bytes of the allowed formats (WebP is checked apart: RIFF....WEBP).
SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)

# Our own pixel limit is checked before decoding; Pillow's global guard would
# only duplicate it with a different message, and warn below our limit.
Image.MAX_IMAGE_PIXELS = None


class ImageError(ValueError):
    """An input that cannot become model input; carries the HTTP status and a stable code."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def empty_input() -> ImageError:
    return ImageError("empty_file", "The file is empty.", 400)


def too_many_bytes(size: int, limit: int) -> ImageError:
    return ImageError("file_too_large", f"The file is larger than the limit of {limit} bytes.", 413)


@dataclass(frozen=True)
class DecodedImage:
    """Model-ready pixels plus what a caller reports about the original."""

    pixels: np.ndarray  # (size, size, 3) uint8, RGB
    width: int  # after EXIF orientation
    height: int
    format: str


def load_image(
    data: bytes,
    size: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
) -> DecodedImage:
    """Decode image bytes into the model's input; raise `ImageError` for anything unusable."""
    if not data:
        raise empty_input()
    if max_bytes is not None and len(data) > max_bytes:
        raise too_many_bytes(len(data), max_bytes)
    image = _open(data, max_pixels)
    # Draft decoding and EXIF orientation both return other images: keep what
    # the caller reports (format, full-resolution size) from the file itself.
    image_format = image.format
    header_size = image.size
    try:
        if image_format == "JPEG":
            image.draft(None, (size * DRAFT_FACTOR, size * DRAFT_FACTOR))
        image.load()
        oriented = _apply_orientation(image)
        rgb = to_rgb(oriented)
        pixels = resize_center_square(rgb, size)
    except ImageError:
        raise
    except Exception as error:  # noqa: BLE001 - any decoder failure on untrusted bytes is bad input
        raise ImageError(
            "undecodable_image",
            "The file looks like an image but could not be decoded (truncated or corrupt).",
            415,
        ) from error
    # An orientation of 5 to 8 swaps the axes; draft scaling never does.
    width, height = header_size if oriented.size == image.size else header_size[::-1]
    return DecodedImage(pixels=pixels, width=width, height=height, format=image_format)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Exception as error:  # noqa: BLE001 - unidentifiable or broken header
        if data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise ImageError(
                "undecodable_image",
                "The file starts like a supported image but its header is corrupt or truncated.",
                415,
            ) from error
        raise ImageError(
            "unsupported_media_type",
            f"The file is not an image in a supported format ({', '.join(f.lower() for f in ALLOWED_FORMATS)}).",
            415,
        ) from error
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageError("undecodable_image", "The image has no pixels.", 415)
    if width * height > max_pixels:
        raise ImageError(
            "too_many_pixels",
            f"The image has {width}x{height} pixels, more than the limit of {max_pixels}.",
            413,
        )
    return image


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block must not lose the picture
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Map any Pillow mode to 8-bit RGB in the one documented way (see the module docstring)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        grey = np.asarray(image, dtype=np.float64)
        # Float greys are taken as already 0-255; integer greys as 16-bit (0-65535).
        grey = np.clip(grey, 0, 255) if mode == "F" else np.clip(grey, 0, 65535) / 257.0
        return Image.fromarray(np.round(grey).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def resize_center_square(image: Image.Image, size: int) -> np.ndarray:
    """Crop the largest centred square and resize it to `size` x `size` (uint8 array)."""
    width, height = image.size
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    box = (left, top, left + side, top + side)
    if side == size and (width, height) == (size, size):
        square = image
    else:
        square = image.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    return np.asarray(square, dtype=np.uint8).copy()
