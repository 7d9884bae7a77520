"""The one preprocessing definition shared by training and serving.

Training (`training.ingest`) and every serving path (HTTP API, blob trigger,
CLI) turn image bytes into model input by calling `load_image`, and nothing
else. The model graph does the rest (VGG16's own `preprocess_input`), so a
train/serve skew can only come from this file and the modules it calls
(`imageauth.decode_limits` for the bounds, `imageauth.pixels` for the pixel
work of steps 5-6, `imageauth.heif` and `imageauth.heif_process` for where a
HEIF is decoded), and `tests/training/test_training_skew.py` checks both
sides against it.

The model input is RGB uint8 pixels, `size` x `size`, made as follows:

1. Only JPEG (MPO included), PNG, WebP, GIF, BMP, TIFF, AVIF and HEIC/HEIF
   are opened; anything else is `unsupported_media_type` (415). A file that
   starts with one of those formats' signatures but cannot be opened is
   corrupt, not foreign: `undecodable_image` (415). HEIC/HEIF goes through
   these same steps in a child process (`imageauth.heif_process`), after its
   decode estimate passed here.
2. Before decoding, the header is checked against the per-image bounds of
   `imageauth.decode_limits`: the pixel count (413 `too_many_pixels`), the
   memory the decode would hold (413 `decode_too_large`) and the work the file
   asks for (422 `image_too_complex`: scan, chunk, marker, strip and frame
   floods). A decompression bomb costs a header read, not gigabytes.
3. Every JPEG flavour is decoded with libjpeg's DCT scaling ("draft" mode) to
   no less than 4x the target size: same picture, a fraction of the work.
4. Multi-frame files (animated GIF/WebP/AVIF, multi-page TIFF, MPO, HEIF collections) use their
   first (HEIF: primary) image.
5. The largest centred square is taken, in bands of rows: each band is
   converted to RGB and box-reduced (Pillow's `reduce`) to no less than 3x
   the target size, so no full-size converted copy ever exists. Colour modes
   are mapped to RGB in one way: transparency is composited on white, 16-bit
   and 32-bit greys are scaled from the 16-bit range, every other mode goes
   through Pillow's own conversion.
6. EXIF orientation is applied to the reduced square (a corrupt EXIF block
   counts as "no rotation"); the centred square of a rotated picture is the
   rotated centred square. (HEIF's decoder applies the file's own rotation
   and mirroring and reports the EXIF orientation as upright.)
7. The square is resized to `size` x `size` with Lanczos filtering (aspect
   ratio kept, no distortion). A square RGB input of the target size - all of
   CIFAKE - passes through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import AvifImagePlugin, Image, JpegImagePlugin, PngImagePlugin

from imageauth import decode_limits, heif, heif_process, tiff_tags
from imageauth.coded_error import CodedError
from imageauth.decode_limits import DEFAULT_MAX_DECODE_BYTES, CappedReader, TooComplex
from imageauth.pixels import TRANSPOSE_FOR_ORIENTATION, exif_orientation, reduce_center_square

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", heif.FORMAT)
# File names a folder search (the CLI, ingest, the real-photo set) takes for images of those formats;
# the bytes still decide what a file is.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif", ".hif"}
)
DEFAULT_MAX_PIXELS = 50_000_000
DRAFT_FACTOR = 4
# Leading bytes of the allowed formats (WebP, AVIF and HEIF are checked apart: RIFF....WEBP, ....ftypavif).
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
# AVIF's ftyp major brands: still image and image sequence ("mif1"/"msf1" are HEIF's, `heif.HEIF_BRANDS`).
AVIF_BRANDS = (b"avif", b"avis")

# Our own pixel limit is checked before decoding; Pillow's global guard would
# only duplicate it with a different message, and warn below our limit.
Image.MAX_IMAGE_PIXELS = None

# PNG text chunks are decompressed into `info` while the file is opened, before any of our limits
# and outside the decode budget: with Pillow's default cap (64 MiB a file) a 66 kB upload held
# 63 MiB. Generators and editors write kilobytes, a ComfyUI workflow a few hundred; more is refused.
MAX_TEXT_BYTES = 8 * 2**20
PngImagePlugin.MAX_TEXT_MEMORY = MAX_TEXT_BYTES

# libavif decodes with one thread per core by default: one upload may use one core, like every
# other decoder here (admission control counts uploads, not threads).
AvifImagePlugin.DEFAULT_MAX_THREADS = 1


class ImageError(CodedError, ValueError):
    """An input that cannot become model input."""


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
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> DecodedImage:
    """Decode image bytes into the model's input; raise `ImageError` for anything unusable."""
    return open_image(data, size, max_pixels, max_bytes, max_decode_bytes).decode()


@dataclass
class OpenedImage:
    """A file whose header passed every check, not yet decoded; `cost` is what decoding will hold."""

    image: Image.Image
    size: int
    header_size: tuple[int, int]
    cost: int

    def close(self) -> None:
        """Release the file without decoding it (a caller that will not decode)."""
        self.image.close()

    def decode(self) -> DecodedImage:
        """The model input; decoding happens here, within the bounds checked by `open_image`."""
        image = self.image
        try:
            image.load()
            orientation = exif_orientation(image)
            square = reduce_center_square(image, self.size)
            method = TRANSPOSE_FOR_ORIENTATION.get(orientation)
            if method is not None:
                square = square.transpose(method)
            if square.size != (self.size, self.size):
                square = square.resize((self.size, self.size), Image.Resampling.LANCZOS)
            pixels = np.asarray(square, dtype=np.uint8).copy()
        except (ImageError, TooComplex) as error:
            raise _as_image_error(error) from None
        except Exception as error:  # noqa: BLE001 - any decoder failure on untrusted bytes is bad input
            raise ImageError(
                "undecodable_image",
                "The file looks like an image but could not be decoded (truncated or corrupt).",
                415,
            ) from error
        finally:
            image.close()
        # An orientation of 5 to 8 swaps the axes; draft scaling never does.
        width, height = self.header_size if orientation not in (5, 6, 7, 8) else self.header_size[::-1]
        return DecodedImage(pixels=pixels, width=width, height=height, format=image.format or "")


def open_image(
    data: bytes,
    size: int,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> OpenedImage | IsolatedHeif:
    """Read the header and check every bound before decoding; raise `ImageError` if one fails."""
    if not data:
        raise empty_input()
    if max_bytes is not None and len(data) > max_bytes:
        raise too_many_bytes(len(data), max_bytes)
    if heif_process.goes_to_child(data):
        return _isolated_heif(data, size, max_pixels, max_bytes, max_decode_bytes)
    try:
        image = _open(data, max_pixels)
        header_size = image.size
        decode_limits.check_structure(image, data)
        if isinstance(image, JpegImagePlugin.JpegImageFile):  # MPO is a JpegImageFile too
            image.draft(None, (size * DRAFT_FACTOR, size * DRAFT_FACTOR))
        cost = decode_limits.decode_bytes(image, header_size, data)
    except (ImageError, TooComplex) as error:
        raise _as_image_error(error) from None
    except Exception as error:  # noqa: BLE001 - a header odd enough to break the checks is corrupt
        raise ImageError("undecodable_image", "The file's header is corrupt.", 415) from error
    if cost > max_decode_bytes:
        image.close()
        raise _decode_too_large(f"this {header_size[0]}x{header_size[1]} image", cost, max_decode_bytes)
    return OpenedImage(image=image, size=size, header_size=header_size, cost=cost)


@dataclass
class IsolatedHeif:
    """A HEIF whose decode estimate fits, to be opened and decoded by `heif_process`'s child."""

    data: bytes
    size: int
    limits: dict
    cost: int

    def close(self) -> None:
        """Nothing is open in this process."""

    def decode(self) -> DecodedImage:
        return heif_process.load_image(self.data, self.size, **self.limits)


def _isolated_heif(data: bytes, size: int, max_pixels: int, max_bytes: int | None, max_decode_bytes: int):
    # The estimate from the `meta` box, before any decoder runs; the child checks everything else.
    cost = decode_limits.heif_decode_bytes(data)
    if cost > max_decode_bytes:
        width, height = heif.coded_size(data)
        raise _decode_too_large(f"this {width}x{height} image (as coded)", cost, max_decode_bytes)
    limits = {"max_pixels": max_pixels, "max_bytes": max_bytes, "max_decode_bytes": max_decode_bytes}
    return IsolatedHeif(data=data, size=size, limits=limits, cost=cost)


def _decode_too_large(what: str, cost: int, max_decode_bytes: int) -> ImageError:
    return ImageError(
        "decode_too_large",
        f"Decoding {what} would need {cost // 2**20} MiB, "
        f"more than the per-image limit of {max_decode_bytes // 2**20} MiB.",
        413,
    )


def _has_signature(data: bytes) -> bool:
    """True when `data` starts like one of the allowed formats."""
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    avif = data[4:8] == b"ftyp" and data[8:12] in AVIF_BRANDS
    return data.startswith(SIGNATURES) or webp or avif or heif.looks_like_heif(data)


def _as_image_error(error: Exception) -> ImageError:
    if isinstance(error, ImageError):
        return error
    return ImageError("image_too_complex", f"The file asks for too much decoding work: {error}.", 422)


def _open(data: bytes, max_pixels: int) -> Image.Image:
    tiff_tags.check_tiff_tags(data)  # Pillow expands a TIFF's tag arrays as it opens the file
    try:
        image = Image.open(CappedReader(data), formats=heif.pillow_formats(data, ALLOWED_FORMATS))
    except TooComplex:
        raise
    except Exception as error:  # noqa: BLE001 - unidentifiable or broken header
        if _has_signature(data):
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
    if decode_limits.extreme_shape(width, height):
        raise ImageError(
            "extreme_aspect_ratio",
            f"The image is {width}x{height}: its centre square, which the model sees, is under "
            f"1/{decode_limits.MAX_ASPECT_RATIO} of it.",
            422,
        )
    return image
