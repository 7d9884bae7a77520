"""The bad-input corpus of issue 6, generated in memory (no committed binaries).

Each `Case` is one upload: its bytes, the filename a client would send, and
the outcome every serving surface must give for it when it is the only file
(`status`/`code` of the HTTP API; the blob result's `error.code`; the CLI's
row). `code is None` means the file is a usable image and must get a verdict.
`docs/reliability.md` holds the same table for people; a test checks that the
two agree.

Everything here is built from Pillow, pillow-heif, `zlib` and `struct`, so the
corpus is the same on every machine and costs about a second to make; the one
exception is a HEIC that crashed its decoder, kept as fuzzing found it.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from credentials import encode
from PIL import Image

# Expected outcomes, as (status, code); None = a verdict.
EMPTY = (400, "empty_file")
UNSUPPORTED = (415, "unsupported_media_type")
UNDECODABLE = (415, "undecodable_image")
TOO_MANY_PIXELS = (413, "too_many_pixels")
DECODE_TOO_LARGE = (413, "decode_too_large")
VERDICT = (200, None)

ORIENTATION_TAG = 0x0112
# The one committed input: a crash found by fuzzing, kept as it was found (tests/data/heic).
CRASHING_HEIC = Path(__file__).resolve().parents[1] / "data" / "heic" / "pi-heif-1.4.0-segfault.heic"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    data: bytes
    status: int
    code: str | None
    note: str = ""

    @property
    def is_verdict(self) -> bool:
        return self.code is None


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth gradient with mild noise: compresses like a photograph, not like a flat colour."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, np.newaxis]
    red = np.broadcast_to(x, (height, width))
    green = np.broadcast_to(y, (height, width))
    blue = (red + green) / 2
    noise = rng.normal(0, 12, (height, width, 3)).astype(np.float32)
    pixels = np.clip(np.stack([red, green, blue], axis=-1) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def quadrant_image(size: int = 64) -> Image.Image:
    """Top-left quadrant black, top-right grey, bottom half white: each of the 8 EXIF transforms differs."""
    pixels = np.full((size, size, 3), 255, np.uint8)
    half = size // 2
    pixels[:half, :half] = 0
    pixels[:half, half:] = 128
    return Image.fromarray(pixels, "RGB")


def exif_jpeg(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return _save(image, "JPEG", quality=95, exif=exif.tobytes())


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side pixels: about 110 kB that would decode to `side**2` bytes."""
    row = b"\0" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_rgb16(width: int = 24, height: int = 16) -> bytes:
    """A 48-bit (16 bits per channel) RGB PNG, which Pillow cannot write itself."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 65535, (height, width, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\0" + pixels[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def gif_bomb() -> bytes:
    """A GIF whose logical screen is 65535 x 65535 around a single 1 x 1 frame."""
    screen = struct.pack("<HHBBB", 65535, 65535, 0x80, 0, 0)  # global table of 2 colours
    palette = b"\0\0\0\xff\xff\xff"
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
    pixels = b"\x02\x02\x44\x01\x00"  # LZW min code size 2, one sub-block, terminator
    return b"GIF89a" + screen + palette + descriptor + pixels + b";"


def tiff_bomb(side: int = 100_000) -> bytes:
    """A little-endian TIFF whose header claims side x side 8-bit grey pixels in one tiny strip."""
    tags = [
        (256, 4, 1, side),  # ImageWidth (LONG)
        (257, 4, 1, side),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8),  # StripOffsets: right after the header
        (278, 4, 1, side),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_offset = 8 + 16
    body = b"II*\0" + struct.pack("<I", ifd_offset) + b"\0" * 16
    entries = b"".join(
        struct.pack("<HHI", tag, kind, count)
        + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, count, value in tags
    )
    return body + struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0)


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame header (SOF0) of a baseline JPEG to claim another size."""
    start = data.index(b"\xff\xc0")
    patched = bytearray(data)
    patched[start + 5 : start + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def webp_canvas_bomb() -> bytes:
    """An animated WebP whose VP8X canvas claims 16384 x 16384 around two small frames."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    data = bytearray(_save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True))
    start = data.index(b"VP8X")
    # Canvas width-1 and height-1 are 24-bit little-endian fields after 4 bytes of flags.
    data[start + 12 : start + 18] = (16383).to_bytes(3, "little") * 2
    return bytes(data)


def corrupt_huffman_jpeg(data: bytes) -> bytes:
    """Set every code-length count of the first DHT segment to 255: an impossible table."""
    start = data.index(b"\xff\xc4")
    patched = bytearray(data)
    patched[start + 5 : start + 21] = b"\xff" * 16
    return bytes(patched)


def corrupt_exif_jpeg(data: bytes) -> bytes:
    """Insert an APP1 Exif segment whose TIFF structure points outside itself."""
    body = b"Exif\0\0" + b"II*\0" + struct.pack("<I", 0x7FFFFFF0) + b"\xde\xad\xbe\xef" * 8
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return data[:2] + segment + data[2:]


def bad_crc(data: bytes, chunk: bytes) -> bytes:
    start = data.index(chunk) - 4
    length = struct.unpack(">I", data[start : start + 4])[0]
    crc_at = start + 8 + length
    patched = bytearray(data)
    patched[crc_at : crc_at + 4] = bytes(b ^ 0xFF for b in patched[crc_at : crc_at + 4])
    return bytes(patched)


def polyglot_jpeg_zip(jpeg: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "a zip archive appended to a JPEG")
    return jpeg + buffer.getvalue()


def _animated(fmt: str) -> bytes:
    frames = [photo_like(40, 30, seed) for seed in range(3)]
    if fmt == "GIF":
        frames = [frame.convert("P") for frame in frames]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def avif_with_size(data: bytes, width: int, height: int) -> bytes:
    """An AVIF or HEIC whose image-spatial-extents box (`ispe`, ISO/IEC 23008-12 6.5.3) claims `width` x `height`.

    The header is all Pillow and our limits see before decoding; libavif and libheif take it at its word.
    """
    at = data.index(b"ispe") + 8  # after the box type and its version/flags word
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def heic_like() -> bytes:
    """The ftyp box an iPhone's HEIC starts with (brand "heic", compatible "mif1"), then an empty meta box."""
    ftyp = b"ftyp" + b"heic" + b"\0\0\0\0" + b"mif1heic"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 16) + b"meta" + b"\0" * 8


def heic(image: Image.Image, **options) -> bytes:
    """A HEIC (HEVC, x265) of `image`, quality 80 unless told."""
    return encode(image, "HEIF", **{"quality": 80, **options})


def _boxes(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """ISO BMFF boxes between `start` and `end`: type -> (offset, size), for 32-bit sizes."""
    found, position = {}, start
    while position + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, position)
        found[kind] = (position, size)
        position += size
    return found


def heic_cropped_to(data: bytes, width: int, height: int) -> bytes:
    """A pillow-heif HEIC with a clean-aperture box (`clap`) that crops its image to `width` x `height`.

    Pillow reports the cropped size; libheif decodes and converts the whole coded image first. The
    box is appended to `ipco` and tied to the item in `ipma`; every enclosing size grows and `iloc`'s
    base offset moves with the pixel data. Written for pillow-heif's layout (one item, iloc v0).
    """
    # clap: clean width, height, horizontal and vertical offsets from the centre, each a fraction.
    clap = struct.pack(">I4s", 40, b"clap") + struct.pack(">IIIIiIiI", width, 1, height, 1, 0, 1, 0, 1)
    meta_at, meta_size = _boxes(data, 0, len(data))[b"meta"]
    inner = _boxes(data, meta_at + 12, meta_at + meta_size)  # after the full box's version and flags
    iprp_at, iprp_size = inner[b"iprp"]
    props = _boxes(data, iprp_at + 8, iprp_at + iprp_size)
    (ipco_at, ipco_size), (ipma_at, ipma_size) = props[b"ipco"], props[b"ipma"]
    index = len(_boxes(data, ipco_at + 8, ipco_at + ipco_size)) + 1
    # ipma v0, one entry: version/flags, entry count, item ID (16 bits), association count, 1-byte indices.
    count_at = ipma_at + 8 + 4 + 4 + 2
    ipma = bytearray(data[ipma_at : ipma_at + ipma_size])
    ipma[count_at - ipma_at] += 1
    ipma += bytes([0x80 | index])
    grown = bytearray(data)
    grown[ipma_at : ipma_at + ipma_size] = ipma
    grown[ipco_at + ipco_size : ipco_at + ipco_size] = clap
    delta = len(clap) + 1
    for at in (meta_at, iprp_at):
        struct.pack_into(">I", grown, at, struct.unpack_from(">I", grown, at)[0] + delta)
    struct.pack_into(">I", grown, ipco_at, ipco_size + len(clap))
    struct.pack_into(">I", grown, ipma_at + len(clap), ipma_size + 1)
    iloc_at = inner[b"iloc"][0]  # before iprp, so not moved: v0, 4-byte offsets, one item
    assert grown[iloc_at + 12 : iloc_at + 14] == b"\x44\x40", "iloc: 4-byte offsets, lengths and base offset"
    base_at = iloc_at + 12 + 2 + 2 + 2 + 2  # sizes, item count, item ID, data reference index
    struct.pack_into(">I", grown, base_at, struct.unpack_from(">I", grown, base_at)[0] + delta)
    return bytes(grown)


def _multipage_tiff() -> bytes:
    pages = [photo_like(48, 32, 1), Image.new("L", (300, 200), 40), Image.new("RGB", (10, 10))]
    return _save(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def _palette_with_transparency() -> bytes:
    image = photo_like(40, 40).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(image, "PNG", transparency=0)


@functools.cache
def bad_inputs() -> tuple[Case, ...]:
    """Every file of issue 6 section 1 that is a single upload (the HTTP-only cases live in the API test)."""
    jpeg = _save(photo_like(320, 240), "JPEG", quality=90)
    png = _save(photo_like(64, 64), "PNG")
    avif = _save(photo_like(64, 48), "AVIF", quality=80)
    heic_photo = heic(photo_like(64, 48))
    text = "This is a plain text file, not a picture.\n" * 4
    html = "<!doctype html><html><body><script>alert(1)</script><p>hello</p></body></html>\n"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        '<rect width="64" height="64" fill="red"/></svg>\n'
    )
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    cases = [
        Case("zero_byte", "empty.jpg", b"", *EMPTY),
        Case("text_as_jpg", "notes.jpg", text.encode(), *UNSUPPORTED),
        Case("html_as_jpg", "page.jpg", html.encode(), *UNSUPPORTED),
        Case("svg", "drawing.svg", svg.encode(), *UNSUPPORTED, "vector formats are not decoded"),
        Case("pdf", "document.pdf", pdf, *UNSUPPORTED),
        Case("truncated_jpeg", "truncated.jpg", jpeg[: len(jpeg) // 2], *UNDECODABLE),
        Case("truncated_png", "truncated.png", png[: len(png) // 2], *UNDECODABLE),
        Case("truncated_header_png", "stub.png", png[:20], *UNDECODABLE, "PNG signature, no IHDR"),
        Case("png_bad_crc_ihdr", "bad-ihdr-crc.png", bad_crc(png, b"IHDR"), *UNDECODABLE),
        Case(
            "png_bad_crc_idat",
            "bad-idat-crc.png",
            bad_crc(png, b"IDAT"),
            *VERDICT,
            "Pillow does not check IDAT CRCs; the pixel data itself is intact",
        ),
        Case("jpeg_corrupt_huffman", "huffman.jpg", corrupt_huffman_jpeg(jpeg), *UNDECODABLE),
        Case("png_bomb_30000x30000", "bomb.png", png_bomb(), *TOO_MANY_PIXELS, "~110 kB file"),
        Case("gif_bomb_65535x65535", "bomb.gif", gif_bomb(), *TOO_MANY_PIXELS),
        Case("tiff_bomb_100000x100000", "bomb.tif", tiff_bomb(), *TOO_MANY_PIXELS),
        Case("jpeg_header_65000x65000", "bomb.jpg", jpeg_with_size(jpeg, 65000, 65000), *TOO_MANY_PIXELS),
        Case("webp_canvas_16384x16384", "bomb.webp", webp_canvas_bomb(), *TOO_MANY_PIXELS),
        Case("avif_header_10000x10000", "bomb.avif", avif_with_size(avif, 10000, 10000), *TOO_MANY_PIXELS),
        Case("animated_gif", "animated.gif", _animated("GIF"), *VERDICT, "first frame"),
        Case("animated_webp", "animated.webp", _animated("WEBP"), *VERDICT, "first frame"),
        Case("animated_avif", "animated.avif", _animated("AVIF"), *VERDICT, "first frame"),
        Case("avif", "photo.avif", avif, *VERDICT),
        Case("truncated_avif", "truncated.avif", avif[: len(avif) // 2], *UNDECODABLE),
        Case("heic", "photo.heic", heic_photo, *VERDICT),
        Case("truncated_heic", "truncated.heic", heic_photo[: len(heic_photo) // 2], *UNDECODABLE),
        Case(
            "heic_header_10000x10000",
            "bomb.heic",
            avif_with_size(heic_photo, 10000, 10000),
            *DECODE_TOO_LARGE,
            "Pillow reports the 64x48 crop; the coded size is what decodes",
        ),
        Case("heic_without_image", "empty.heic", heic_like(), *UNDECODABLE, "HEIC brand, no image in it"),
        Case(
            "heic_that_crashes_the_decoder",
            "crash.heic",
            CRASHING_HEIC.read_bytes(),
            *UNDECODABLE,
            "found by fuzzing: pi-heif 1.4.0 segfaults opening it; decoded in a child process",
        ),
        Case("one_by_one", "1x1.png", _save(Image.new("RGB", (1, 1), "red"), "PNG"), *VERDICT),
        Case("one_by_10000", "1x10000.png", _save(photo_like(1, 10000), "PNG"), *VERDICT),
        Case("10000_by_one", "10000x1.png", _save(photo_like(10000, 1), "PNG"), *VERDICT),
        Case("png_rgb_16bit", "rgb16.png", png_rgb16(), *VERDICT),
        Case(
            "png_grey_16bit_I16",
            "grey16.png",
            _save(Image.fromarray(np.arange(0, 65536, 64, dtype=np.uint16).reshape(32, 32)), "PNG"),
            *VERDICT,
        ),
        Case("tiff_I16", "grey16.tif", _save(Image.new("I;16", (20, 30), 40000), "TIFF"), *VERDICT),
        Case("jpeg_cmyk", "cmyk.jpg", _save(Image.new("CMYK", (40, 30), (0, 128, 255, 20)), "JPEG"), *VERDICT),
        Case("png_palette_transparency", "palette.png", _palette_with_transparency(), *VERDICT),
        Case("png_LA", "la.png", _save(Image.new("LA", (30, 30), (90, 128)), "PNG"), *VERDICT),
        Case("tiff_multipage", "pages.tif", _multipage_tiff(), *VERDICT, "first page"),
        Case("jpeg_corrupt_exif", "bad-exif.jpg", corrupt_exif_jpeg(jpeg), *VERDICT, "no rotation"),
        Case(
            "polyglot_jpeg_zip",
            "polyglot.jpg",
            polyglot_jpeg_zip(jpeg),
            *VERDICT,
            "decoded as the JPEG it starts with; the zip is never opened",
        ),
        Case("bmp", "plain.bmp", _save(photo_like(30, 20), "BMP"), *VERDICT),
    ]
    cases += [
        Case(f"exif_orientation_{value}", f"orientation-{value}.jpg", exif_jpeg(photo_like(60, 40), value), *VERDICT)
        for value in range(2, 9)
    ]
    return tuple(cases)


def case_by_name(name: str) -> Case:
    return next(case for case in bad_inputs() if case.name == name)


@functools.cache
def small_jpeg(seed: int = 0, width: int = 64, height: int = 48) -> bytes:
    return _save(photo_like(width, height, seed), "JPEG", quality=90)


@functools.cache
def twelve_megapixel_jpeg() -> bytes:
    return _save(photo_like(4000, 3000, 7), "JPEG", quality=90)
