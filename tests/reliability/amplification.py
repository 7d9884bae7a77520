"""The amplification corpus of issue 15: small files that ask for a lot of memory or CPU.

Each `Case` (the same type as the bad-input corpus) is a file that is cheap to
send and expensive to decode naively: declared-large canvases, blank
large PNGs, extreme shapes, many-scan progressive JPEGs, marker, chunk and
extension-block floods, many-strip TIFFs, an MPO, AVIFs and HEICs. Its `status`/`code` is
what the service answers; `docs/reliability.md` ("Budgets") lists the same
cases. Built from Pillow, pillow-heif, numpy, `zlib` and `struct` in about ten seconds.
"""

from __future__ import annotations

import functools
import struct
import zlib

import numpy as np
from badinputs import (
    DECODE_TOO_LARGE,
    VERDICT,
    Case,
    _png_chunk,
    _save,
    avif_with_size,
    heic,
    heic_cropped_to,
    jpeg_with_size,
    photo_like,
)
from PIL import Image

TOO_COMPLEX = (422, "image_too_complex")
EXTREME = (422, "extreme_aspect_ratio")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def blank_png(width: int, height: int, bit_depth: int, colour_type: int, channels: int) -> bytes:
    """A valid PNG of zeros, streamed through zlib row by row (never a full-size buffer here)."""
    row = b"\0" * (1 + (width * channels * bit_depth + 7) // 8)
    rows_per_chunk = max(1, (4 << 20) // len(row))
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * min(rows_per_chunk, height - y)) for y in range(0, height, rows_per_chunk)]
    idat = b"".join(chunks) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def png_chunk_flood(chunks: int = 200_000) -> bytes:
    """A small valid PNG with `chunks` empty private chunks before its pixels."""
    image = _save(Image.new("RGB", (8, 8), "gray"), "PNG")
    ihdr_end = 8 + 25
    flood = _png_chunk(b"zzZz", b"") * chunks
    return image[:ihdr_end] + flood + image[ihdr_end:]


def png_idat_flood(width: int = 256, height: int = 256) -> bytes:
    """A valid PNG of noise whose pixel data is cut into one-byte IDAT chunks."""
    noise = np.random.default_rng(5).integers(0, 256, (height, width * 3), dtype=np.uint8)
    data = zlib.compress(b"".join(b"\0" + row.tobytes() for row in noise), 1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idats = b"".join(_png_chunk(b"IDAT", data[i : i + 1]) for i in range(len(data)))
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + idats + _png_chunk(b"IEND", b"")


def jpeg_marker_flood(markers: int = 500_000) -> bytes:
    """A small JPEG with `markers` empty comment segments after its start marker."""
    image = _save(photo_like(64, 48), "JPEG", quality=90)
    return image[:2] + b"\xff\xfe\x00\x02" * markers + image[2:]


def jpeg_fill_flood(fill: int = 4_000_000) -> bytes:
    """A small JPEG with `fill` bytes of 0xFF padding before its first marker segment."""
    image = _save(photo_like(64, 48), "JPEG", quality=90)
    return image[:2] + b"\xff" * fill + image[2:]


def gif_extension_flood(blocks: int = 1_000_000) -> bytes:
    """A 1x1 GIF with one comment extension of `blocks` one-byte sub-blocks."""
    screen = struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    comment = b"!\xfe" + b"\x01x" * blocks + b"\0"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + comment + frame + b";"


def many_scan_jpeg(image: Image.Image, scans: int) -> bytes:
    """A progressive JPEG whose first (DC) scan is repeated until the file has `scans` scans.

    libjpeg accepts a repeated DC-first scan (it only warns about refinement
    scans out of order), and each copy is one more pass over every block.
    """
    data = _save(image, "JPEG", quality=85, progressive=True)
    first = data.index(b"\xff\xda")
    second = data.index(b"\xff\xda", first + 2)
    # The DC scan ends where the next marker segment (a Huffman table or the second scan) starts.
    end = data.rindex(b"\xff\xc4", first, second) if b"\xff\xc4" in data[first:second] else second
    dc_scan = data[first:end]
    extra = scans - data.count(b"\xff\xda")
    return data[:end] + dc_scan * max(0, extra) + data[end:]


def tiff_strips(width: int, height: int, rows_per_strip: int) -> bytes:
    """A deflate-compressed 8-bit grey TIFF stored in strips of `rows_per_strip` rows."""
    image = Image.new("L", (width, height), 128)
    return _save(image, "TIFF", compression="tiff_deflate", rowsperstrip=rows_per_strip)


def mpo(width: int = 4000, height: int = 3000) -> bytes:
    """A two-frame MPO (stereo JPEG): the JPEG flavour Pillow opens as `MpoImageFile`."""
    frames = [gradient(width, height, turn) for turn in (0, 90)]
    return _save(frames[0], "MPO", save_all=True, append_images=frames[1:], quality=85)


def bmp_rle(width: int, height: int) -> bytes:
    """A valid 8-bit RLE BMP of `width` x `height`: runs of 255 pixels, a few bytes a row."""
    runs, rest = divmod(width, 255)
    row = b"\xff\x01" * runs + (bytes([rest, 1]) if rest else b"") + b"\x00\x00"
    pixels = row * height + b"\x00\x01"
    palette = b"\0\0\0\0\x40\x80\xc0\0"
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 2, 0)
    offset = 14 + len(info) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return header + info + palette + pixels


def animated_webp(side: int) -> bytes:
    frames = [Image.new("RGB", (side, side), colour) for colour in ("red", "blue")]
    return _save(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True, quality=0)


def gif_canvas(side: int = 7000) -> bytes:
    """A GIF whose logical screen is side x side around a 1x1 frame, within the pixel limit."""
    screen = struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b";"


def _progressive_444(width: int, height: int) -> bytes:
    """A small 4:4:4 progressive JPEG whose frame header is rewritten to claim `width` x `height`."""
    data = _save(photo_like(64, 64), "JPEG", quality=90, progressive=True, subsampling=0)
    start = data.index(b"\xff\xc2")
    patched = bytearray(data)
    patched[start + 5 : start + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def gradient(width: int, height: int, turn: int = 0) -> Image.Image:
    """A smooth RGB picture made in C (photo_like's numpy noise is slow at 12 megapixels)."""
    ramp = Image.linear_gradient("L").rotate(turn).resize((width, height))
    return Image.merge(
        "RGB",
        (ramp, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT), Image.radial_gradient("L").resize((width, height))),
    )


def _grey(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.full((height, width), 128, dtype=np.uint8), "L")


@functools.cache
def amplification_inputs() -> tuple[Case, ...]:
    small = _save(photo_like(64, 48), "JPEG", quality=90)
    cases = [
        # Declared-large canvases in tiny files.
        Case("gif_canvas_7000", "canvas.gif", gif_canvas(), *VERDICT, "49 MP screen around a 1x1 frame (39 bytes)"),
        Case("bmp_rle_2000", "canvas.bmp", bmp_rle(2000, 2000), *VERDICT, "4 MP RLE BMP in 40 kB"),
        Case(
            "bmp_rle_7000",
            "canvas.bmp",
            bmp_rle(7000, 7000),
            *TOO_COMPLEX,
            "49 MP RLE BMP in 400 kB: Pillow decodes RLE in Python, one read per run",
        ),
        Case(
            "jpeg_header_7000",
            "canvas.jpg",
            jpeg_with_size(small, 7000, 7000),
            *VERDICT,
            "baseline JPEG header claiming 7000x7000 over 64x48 of data (libjpeg pads the rest)",
        ),
        Case(
            "progressive_444_header_7000",
            "canvas.jpg",
            _progressive_444(7000, 7000),
            *DECODE_TOO_LARGE,
            "progressive 4:4:4 header claiming 7000x7000: 294 MiB of coefficients",
        ),
        Case("webp_animated_3500", "canvas.webp", animated_webp(3500), *VERDICT, "12 MP animated WebP: 187 MiB"),
        Case(
            "webp_animated_5000",
            "canvas.webp",
            animated_webp(5000),
            *DECODE_TOO_LARGE,
            "25 MP animated WebP: 381 MiB of canvases",
        ),
        Case(
            "avif_3500",
            "photo.avif",
            _save(gradient(3500, 3500), "AVIF", quality=50, speed=10),
            *VERDICT,
            "12 MP AVIF: libavif's planes, its RGB frame and Pillow's copy",
        ),
        Case(
            "avif_header_7000",
            "canvas.avif",
            avif_with_size(_save(photo_like(64, 48), "AVIF"), 7000, 7000),
            *DECODE_TOO_LARGE,
            "AVIF header claiming 7000x7000 over 64x48 of data: 748 MiB at four copies",
        ),
        Case("heic_3500", "photo.heic", heic(gradient(3500, 3500), quality=50), *VERDICT, "12 MP HEIC"),
        Case(
            "heic_5712x4284",
            "iphone.heic",
            heic(gradient(5712, 4284), quality=50),
            *VERDICT,
            "24 MP HEIC, the size iPhone 15 and 16 save by default: fits the default decode limit",
        ),
        Case(
            "heic_header_7000",
            "canvas.heic",
            avif_with_size(heic(photo_like(64, 48)), 7000, 7000),
            *DECODE_TOO_LARGE,
            "HEIC header claiming 7000x7000 over 64x48 of data: 467 MiB at 2.5 copies",
        ),
        Case(
            "heic_cropped_16_of_6000",
            "cropped.heic",
            heic_cropped_to(heic(Image.new("RGB", (6000, 6000), "grey"), quality=10), 16, 16),
            *DECODE_TOO_LARGE,
            "a 16x16 clean aperture (`clap`) over a 6000x6000 coded image, 8 kB: the coded size is what decodes",
        ),
        # Blank large PNGs: kilobytes that decode to the pixel limit.
        Case(
            "png_blank_rgba_7000", "blank.png", blank_png(7000, 7000, 8, 6, 4), *VERDICT, "49 MP RGBA of zeros: 187 MiB"
        ),
        Case(
            "png_blank_grey16_7000", "blank.png", blank_png(7000, 7000, 16, 0, 1), *VERDICT, "49 MP 16-bit grey: 93 MiB"
        ),
        Case("png_blank_1bit_7000", "blank.png", blank_png(7000, 7000, 1, 0, 1), *VERDICT, "49 MP 1-bit: 47 MiB"),
        # Extreme shapes.
        Case("png_50000000x1", "wide.png", blank_png(50_000_000, 1, 8, 0, 1), *EXTREME, "one row of 50 MP"),
        Case(
            "png_1x50000000",
            "tall.png",
            blank_png(1, 50_000_000, 8, 0, 1),
            *EXTREME,
            "one column of 50 MP: 400 MB of row pointers alone",
        ),
        Case(
            "png_100x10000",
            "tall.png",
            blank_png(100, 10000, 8, 0, 1),
            *VERDICT,
            "1 MP at 1:100, the largest ratio allowed",
        ),
        Case("png_rgb_50000x1000", "panorama.png", blank_png(50_000, 1000, 8, 2, 3), *VERDICT, "50 MP RGB panorama"),
        Case(
            "jpeg_grey_65500x700",
            "wide.jpg",
            _save(_grey(65500, 700), "JPEG", quality=50),
            *VERDICT,
            "46 MP baseline JPEG at JPEG's widest",
        ),
        Case(
            "jpeg_progressive_grey_65500x700",
            "wide.jpg",
            _save(_grey(65500, 700), "JPEG", quality=50, progressive=True),
            *VERDICT,
            "46 MP progressive JPEG: 87 MiB of coefficients",
        ),
        # Many scans: each one is a pass over every block.
        Case(
            "jpeg_progressive_12mp_60_scans",
            "scans.jpg",
            many_scan_jpeg(gradient(4000, 3000), 60),
            *VERDICT,
            "12 MP progressive JPEG with its DC scan repeated to 60 scans",
        ),
        Case(
            "jpeg_progressive_2000_scans",
            "scans.jpg",
            many_scan_jpeg(gradient(512, 384), 2000),
            *TOO_COMPLEX,
            "2000 scans",
        ),
        # Marker, chunk and block floods: steps that Pillow parses in Python.
        Case("jpeg_comment_flood", "flood.jpg", jpeg_marker_flood(), *TOO_COMPLEX, "500 000 empty COM segments"),
        Case("jpeg_fill_flood", "flood.jpg", jpeg_fill_flood(), *TOO_COMPLEX, "4 MB of 0xFF fill bytes"),
        Case("png_chunk_flood", "flood.png", png_chunk_flood(), *TOO_COMPLEX, "200 000 empty private chunks"),
        Case("png_idat_flood", "flood.png", png_idat_flood(), *TOO_COMPLEX, "pixel data in one-byte IDAT chunks"),
        Case(
            "gif_extension_flood",
            "flood.gif",
            gif_extension_flood(),
            *TOO_COMPLEX,
            "a comment of 1 000 000 one-byte sub-blocks",
        ),
        # Strips decoded one by one.
        Case(
            "tiff_50000_strips",
            "strips.tif",
            tiff_strips(1000, 50000, 1),
            *VERDICT,
            "50 000 one-row deflate strips (libtiff reads them in C)",
        ),
        # The JPEG flavour that used to skip draft decoding.
        Case("mpo_12mp", "stereo.mpo", mpo(), *VERDICT, "two-frame 12 MP MPO"),
    ]
    return tuple(cases)


def case_named(name: str) -> Case:
    return next(case for case in amplification_inputs() if case.name == name)
