"""What a file may cost to decode, known from its header: the per-image memory and CPU bounds.

`preprocess.load_image` opens a file through `CappedReader`, asks
`check_structure` and `decode_bytes` about the opened header, and only then
decodes. Everything here runs before a single pixel is decoded, so a refusal
costs a header read. The limits and their error codes are listed in
docs/reliability.md ("Budgets").

- Memory: `decode_bytes` estimates what the decoder will hold for the image
  (Pillow's pixel storage of the decoded size, libjpeg's whole-image
  coefficient buffer for progressive and multi-scan JPEGs, libwebp's canvases,
  libavif's and libheif's planes, libtiff's buffer of one strip or tile), and a file over the per-image limit
  is refused with 413 `decode_too_large`.
- CPU: Pillow parses headers, chunks, markers and strips in Python, one read
  per step; `CappedReader` stops a file that needs more than `MAX_PARSER_READS`
  of them (chunk, marker, extension-block or strip floods), and
  `check_structure` caps JPEG scans (each one is a pass over every block of
  the image), tiles and frames. These answer 422 `image_too_complex`.
- TIFF tag arrays, which Pillow expands as it opens a file, are checked
  before it does, in `imageauth.tiff_tags`.
"""

from __future__ import annotations

import io
import math

from PIL import Image, JpegImagePlugin

from imageauth import heif

# 256 MiB rather than the 200 MiB of a 50 MP RGBA image: a 24 MP HEIC, what iPhones 15 and 16 save
# by default, is estimated at 233 MiB (2.5 copies of its coded size) and peaks at about 175 MiB.
DEFAULT_MAX_DECODE_BYTES = 256 * 1024 * 1024
# A real file needs a few thousand parser reads at most (a 20 MB PNG in 8 KiB
# IDAT chunks: about 7700); 50 000 cost about 0.1 s of CPU.
MAX_PARSER_READS = 50_000
# libjpeg's standard progressive script has 10 scans (6 for greyscale); encoders
# that optimise scans stay under 20. Each scan is one pass over the image.
MAX_JPEG_SCANS = 64
# Scans times 8x8 blocks: the entropy-decoding work of a JPEG. 64 scans of a
# 12-megapixel 4:2:0 image are about 18 million; the cap keeps a decode under 2 s.
MAX_JPEG_SCAN_BLOCKS = 120_000_000
# Strips or tiles that Pillow decodes one by one in Python (uncompressed TIFF);
# a 20 MB TIFF in libtiff's default 8 KiB strips has about 2600.
MAX_TILES = 10_000
MAX_FRAMES = 10_000
# Formats whose `n_frames` Pillow reads from the header as it opens the file (WebP: libwebp's demuxer).
FRAMES_AT_OPEN = ("WEBP", "MPO", "AVIF", "HEIF")
# Bytes per pixel of Pillow's own storage; every other mode takes 4.
PILLOW_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
# libwebp's animation decoder keeps two RGBA canvases, and Pillow copies one;
# measured peaks are closer to four canvases.
WEBP_CANVAS_COPIES = 4
# libavif's decoded YUV planes, the RGB(A) frame it hands Pillow as bytes, and Pillow's image:
# measured 2.3 (8-bit 4:2:0) to 2.9 (with alpha) times Pillow's storage for 12 MP; 10- and 12-bit
# files hold two bytes a sample in the planes.
AVIF_FRAME_COPIES = 4
# libheif's decoded planes, the RGB(A) frame it converts them to, and Pillow's image: measured peaks
# of 1.8-2.0 times Pillow's storage for 8- and 10-bit HEIC of 12-48 MP, 2.1 with alpha.
HEIF_FRAME_COPIES = 2.5
# Pillow keeps a pointer per row, and decoders such as PNG's hold two raw rows
# of up to 8 bytes a pixel: for a 1 x 50 000 000 image the pointers alone are 400 MB.
ROW_POINTER_BYTES = 8
RAW_ROW_BYTES = 2 * 8
# A picture more than this many times longer than wide (or the reverse), and
# over ASPECT_CHECK_PIXELS, is refused: its centre square is under 1 % of it,
# so almost all the decoding work would be thrown away.
MAX_ASPECT_RATIO = 100
ASPECT_CHECK_PIXELS = 1_000_000
JPEG_COEFFICIENT_BYTES = 2 * 64  # one 8x8 block of 16-bit DCT coefficients
# TIFF tags that size libtiff's buffer: a compressed TIFF is decoded one strip or tile at a
# time into a buffer of the whole strip or tile, and a tile may be far larger than the image.
TIFF_BITS_PER_SAMPLE, TIFF_PHOTOMETRIC, TIFF_SAMPLES_PER_PIXEL, TIFF_ROWS_PER_STRIP = 258, 262, 277, 278
TIFF_TILE_WIDTH, TIFF_TILE_LENGTH = 322, 323
TIFF_YCBCR = 6  # libtiff hands YCbCr over as 32-bit RGBA


class TooComplex(Exception):
    """Raised by the capped reader; `preprocess` turns it into `image_too_complex`."""


class CappedReader(io.BytesIO):
    """In-memory file that refuses to serve more than `max_reads` reads to Pillow's parsers."""

    def __init__(self, data: bytes, max_reads: int = MAX_PARSER_READS) -> None:
        super().__init__(data)
        self.reads_left = max_reads

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads_left -= 1
        if self.reads_left < 0:
            raise TooComplex("the file needs too many parser steps (chunk, marker or block flood)")
        return super().read(size)


def extreme_shape(width: int, height: int) -> bool:
    """True for a large picture whose centre square is a sliver of it."""
    return width * height > ASPECT_CHECK_PIXELS and max(width, height) > MAX_ASPECT_RATIO * min(width, height)


def check_structure(image: Image.Image, data: bytes) -> None:
    """Raise `TooComplex` when the file asks for more passes, tiles or frames than allowed."""
    if len(getattr(image, "tile", ()) or ()) > MAX_TILES:
        raise TooComplex(f"the file has {len(image.tile)} strips or tiles, more than {MAX_TILES}")
    # Known at open for WebP, MPO, AVIF and HEIF (its top-level images); elsewhere `n_frames` seeks
    # through the whole file (GIF, TIFF), so only a count Pillow already has is read.
    frames = image.n_frames if image.format in FRAMES_AT_OPEN else getattr(image, "_n_frames", None)
    if isinstance(frames, int) and frames > MAX_FRAMES:
        raise TooComplex(f"the file has {frames} frames, more than {MAX_FRAMES}")
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        scans = jpeg_scans(image, data)
        if scans > MAX_JPEG_SCANS:
            raise TooComplex(f"the JPEG has {scans} scans, more than {MAX_JPEG_SCANS}")
        if scans * jpeg_blocks(image, image.size) > MAX_JPEG_SCAN_BLOCKS:
            raise TooComplex(
                f"the JPEG's {scans} scans over its {image.size[0]}x{image.size[1]} pixels are too much work"
            )


def jpeg_blocks(image: JpegImagePlugin.JpegImageFile, size: tuple[int, int]) -> int:
    """8x8 blocks over all components of a `size` frame, from the frame header's sampling factors."""
    width, height = size
    layers = image.layer or [("", 1, 1, 0)]
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    mcus = math.ceil(width / (8 * h_max)) * math.ceil(height / (8 * v_max))
    return mcus * sum(layer[1] * layer[2] for layer in layers)


def jpeg_scans(image: JpegImagePlugin.JpegImageFile, data: bytes) -> int:
    """How many scans libjpeg will decode: 1 for a baseline JPEG whose first scan holds every component.

    libjpeg refuses a second scan after such a scan, so only progressive and
    non-interleaved files are counted, with one pass over the bytes: 0xFFDA
    starts a scan, and entropy-coded data stuffs every 0xFF, so the count is
    exact up to the scans of an embedded thumbnail, which only make it stricter.
    """
    # Pillow stops reading the header right after the first scan's header (its start of scan
    # is the last 0xFFDA before that point, not one in an embedded thumbnail).
    end = image.fp.tell() if image.fp is not None else 0
    first = data.rfind(b"\xff\xda", max(0, end - 64), end)
    components_in_first_scan = data[first + 4] if 0 <= first < len(data) - 4 else 0
    if not image.info.get("progressive") and components_in_first_scan == len(image.layer):
        return 1
    return data.count(b"\xff\xda")


def decode_bytes(image: Image.Image, header_size: tuple[int, int], data: bytes) -> int:
    """Memory the decoder will hold for `image` (after draft scaling), in bytes."""
    width, height = image.size
    pixels = _storage_bytes(width, height, PILLOW_BYTES_PER_PIXEL.get(image.mode, 4))
    if image.format == "WEBP":
        return pixels * WEBP_CANVAS_COPIES
    if image.format == "AVIF":
        return pixels * AVIF_FRAME_COPIES
    if image.format == "HEIF":
        return max(int(pixels * HEIF_FRAME_COPIES), heif_decode_bytes(data))
    if image.format == "TIFF":
        return pixels + tiff_buffer_bytes(image)
    if isinstance(image, JpegImagePlugin.JpegImageFile) and (
        image.info.get("progressive") or jpeg_scans(image, data) > 1
    ):
        # Progressive and multi-scan JPEGs keep every coefficient of the full-size
        # image until the last scan, whatever the output scale.
        return pixels + jpeg_blocks(image, header_size) * JPEG_COEFFICIENT_BYTES
    return pixels


def heif_decode_bytes(data: bytes) -> int:
    """What decoding a HEIF's largest coded image holds, from its `meta` box alone (no decoder)."""
    width, height = heif.coded_size(data)
    return int(_storage_bytes(width, height, 4) * HEIF_FRAME_COPIES)


def _storage_bytes(width: int, height: int, bytes_per_pixel: int) -> int:
    """One decoded copy as Pillow stores it: the pixels, a pointer per row, the decoder's raw rows."""
    return width * height * bytes_per_pixel + height * ROW_POINTER_BYTES + width * RAW_ROW_BYTES


def tiff_buffer_bytes(image: Image.Image) -> int:
    """libtiff's buffer for one strip or tile of a compressed TIFF (uncompressed ones are read in place).

    A tile's size is its own, not the image's: a 64x64 picture stored as one
    46336x46336 tile asks for 2 GiB, from a file of under 200 bytes.
    """
    tile = (getattr(image, "tile", None) or [None])[0]
    if tile is None or tile[0] != "libtiff":
        return 0
    tags = image.tag_v2
    width, height = image.size
    per_sample = tags.get(TIFF_BITS_PER_SAMPLE) or (1,)
    per_sample = per_sample if isinstance(per_sample, tuple) else (per_sample,)
    samples = int(tags.get(TIFF_SAMPLES_PER_PIXEL) or 1)
    bits = sum(per_sample) if len(per_sample) == samples else int(per_sample[0]) * samples
    if tags.get(TIFF_PHOTOMETRIC) == TIFF_YCBCR:
        bits = max(bits, 32)
    if TIFF_TILE_WIDTH in tags and TIFF_TILE_LENGTH in tags:
        row_pixels, rows = int(tags[TIFF_TILE_WIDTH]), int(tags[TIFF_TILE_LENGTH])
    else:
        row_pixels, rows = width, min(int(tags.get(TIFF_ROWS_PER_STRIP) or height), height)
    return math.ceil(row_pixels * bits / 8) * rows


def structure_limits() -> dict[str, int]:
    """The fixed per-file caps, as `/api/model` reports them."""
    return {
        "max_parser_reads": MAX_PARSER_READS,
        "max_jpeg_scans": MAX_JPEG_SCANS,
        "max_jpeg_scan_blocks": MAX_JPEG_SCAN_BLOCKS,
        "max_tiles": MAX_TILES,
        "max_frames": MAX_FRAMES,
        "max_aspect_ratio": MAX_ASPECT_RATIO,
    }
