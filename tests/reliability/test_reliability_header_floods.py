"""Header fields that Pillow expands into Python objects as it opens a file, before any of our limits.

TIFF tag arrays (`tiff_tags.check_tiff_tags`) and the frame counts WebP and MPO report at open
(`decode_limits.check_structure`). Every file is generated here; each test failed before its fix:
a 20 MB TIFF with 10 million strip offsets took 25 s of CPU and 2.5 GiB before its 422, one with
2.5 million XResolution values 13 s and a verdict, a WebP of 433 106 frames a verdict.
These are fixes in files the training pipeline's dvc.lock records (preprocess.py, decode_limits.py, tiff_tags.py).
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from cpu_clock import cpu_clock
from PIL import Image

from imageauth import decode_limits
from imageauth.preprocess import ImageError, load_image, open_image

pytestmark = pytest.mark.timeout(120)
SIZE = 32
MEBIBYTE = 1024 * 1024
# Generous for a slow shared machine; the refused files cost 2.5 s to minutes before the fix.
MAX_CPU_SECONDS = 0.5
# A file just under the caps really is parsed: 0.1-0.2 s here. The bound is for what the caps let
# through, against a regression that parses the accepted header again and again.
MAX_ACCEPTED_CPU_SECONDS = 1.0
MAX_TRACED_BYTES = 16 * MEBIBYTE
PACKING = {3: "H", 4: "I", 5: "I", 12: "d", 16: "Q"}  # SHORT, LONG, RATIONAL (two LONGs), DOUBLE, LONG8
UNIT = {3: 2, 4: 4, 5: 8, 12: 8, 16: 8}
DEFLATE = 8

Values = tuple | Callable[[int], tuple]


def tiff_file(
    pages: list[dict[int, tuple[int, Values]]],
    pixels: bytes,
    exif: dict[int, tuple[int, Values]] | None = None,
    big: bool = False,
    order: str = "<",
    exif_pointers: int = 1,
) -> bytes:
    """A TIFF whose IFDs are `pages` ({tag: (type, values)}), chained, with an Exif IFD for the first.

    Values may be a function of the offset of `pixels`, which follow the IFDs; arrays that do not fit
    in an entry follow the pixels. RATIONALs are given as flat numerator, denominator pairs.
    """
    entry, count_format, value_count, offset_format = (20, "Q", "Q", "Q") if big else (12, "H", "I", "I")
    inline = 8 if big else 4
    header = (b"II" if order == "<" else b"MM") + struct.pack(order + "H", 43 if big else 42)
    header += struct.pack(order + "HHQ", 8, 0, 16) if big else struct.pack(order + "I", 8)
    if exif is not None:
        pages = [{**pages[0], 34665: (4, lambda _: (exif_at,) * exif_pointers)}, *pages[1:]]
    ifds = [*pages, *([exif] if exif is not None else [])]
    starts = [len(header)]
    for ifd in ifds:
        starts.append(starts[-1] + len(struct.pack(order + count_format, 0)) + entry * len(ifd) + inline)
    exif_at, pixel_at = starts[len(pages)], starts[-1]
    payloads = bytearray()
    blocks = []
    for index, ifd in enumerate(ifds):
        block = struct.pack(order + count_format, len(ifd))
        for tag in sorted(ifd):
            kind, values = ifd[tag]
            values = values(pixel_at) if callable(values) else values
            raw = struct.pack(f"{order}{len(values)}{PACKING[kind]}", *values)
            if len(raw) <= inline:
                field = raw.ljust(inline, b"\0")
            else:
                field = struct.pack(order + offset_format, pixel_at + len(pixels) + len(payloads))
                payloads += raw
            block += struct.pack(order + "HH" + value_count, tag, kind, len(raw) // UNIT[kind])
            block += field
        chained = index + 1 < len(pages)
        block += struct.pack(order + offset_format, starts[index + 1] if chained else 0)
        blocks.append(block)
    return header + b"".join(blocks) + pixels + bytes(payloads)


def grey(width: int, height: int, extra: dict | None = None, tiled: bool = False) -> dict[int, tuple[int, Values]]:
    """The tags of an uncompressed 8-bit grey picture in one strip at the pixels, plus `extra`.

    `tiled`: without the strip tags (Pillow reads strips when a file has both), for `extra`'s tiles.
    """
    tags = {256: (4, (width,)), 257: (4, (height,)), 258: (3, (8,)), 259: (3, (1,)), 262: (3, (1,))}
    if not tiled:
        tags |= {273: (4, lambda at: (at,)), 278: (4, (height,)), 279: (4, (width * height,))}
    return {**tags, **(extra or {})}


def refused_cheaply(data: bytes) -> ImageError:
    """The error `load_image` raises for `data`, checking it cost under the bounds."""
    tracemalloc.start()
    try:
        with cpu_clock() as cpu_seconds, pytest.raises(ImageError) as refused:
            try:
                load_image(data, SIZE)
            finally:
                cpu = cpu_seconds()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cpu < MAX_CPU_SECONDS, f"{cpu:.2f} s of CPU before {refused.value.code}"
    assert peak < MAX_TRACED_BYTES, f"{peak // MEBIBYTE} MiB before {refused.value.code}"
    return refused.value


def loads_cheaply(data: bytes, size: tuple[int, int]) -> None:
    with cpu_clock() as cpu_seconds:
        decoded = load_image(data, SIZE)
        cpu = cpu_seconds()
    assert (decoded.width, decoded.height) == size
    assert cpu < MAX_ACCEPTED_CPU_SECONDS, f"{cpu:.2f} s of CPU to accept it"


FLOODS = {
    # Pillow made one tile tuple per offset of an uncompressed TIFF, then refused over 10 000: 4.6 s, 500 MiB.
    "strip_offsets": [grey(1, 2, {273: (4, lambda at: (at,) * 2_000_000), 278: (4, (1,)), 279: (4, (1, 1))})],
    # One Python fraction per value, and a verdict: 2.8 s.
    "x_resolution": [grey(2, 2, {282: (5, (72, 1) * 1_000_000)})],
    "bits_per_sample": [grey(2, 2, {258: (3, (8,) * 4_000_000)})],
    "color_map": [grey(2, 2, {262: (3, (3,)), 320: (3, (0,) * 2_000_000)})],
    # Tiles must fit the picture too: a 64x64 picture in 16x16 tiles has 16 (Pillow made 1 million: 2.3 s).
    "tile_offsets": [
        grey(64, 64, {322: (4, (16,)), 323: (4, (16,)), 324: (4, (0,) * 1_000_000), 325: (4, (1,))}, tiled=True)
    ],
}


@pytest.mark.parametrize("name", sorted(FLOODS))
def test_a_tiff_tag_array_larger_than_its_picture_allows_is_refused_from_the_header(name):
    error = refused_cheaply(tiff_file(FLOODS[name], bytes(4096)))
    assert (error.status, error.code) == (422, "image_too_complex")


@pytest.mark.parametrize(("kind", "pointers"), [(5, 1), (5, 2), (4, 1), (12, 1)])
def test_the_exif_ifd_of_a_tiff_counts_too(kind, pointers):
    """Pillow expands the Exif, GPS and Interoperability IFDs whole as it decodes a single-page TIFF
    (and again when the evidence step reads EXIF): 1 million RATIONALs in the Exif IFD took 3 s in
    `load_image`, 1.2 million LONGs or DOUBLEs 0.3 s and 60 MiB, then a verdict. Pillow follows the
    first of several pointers."""
    count = 500_000 if kind == 5 else 800_000  # the caps: 2^16 RATIONALs, 2^20 numbers in all
    values = {5: (7, 3) * count, 4: (123_456_789,) * count, 12: (1.5,) * count}[kind]
    exif = {37500: (kind, values), 37510 + 1: (kind, values[: len(values) // 2])}
    error = refused_cheaply(tiff_file([grey(2, 2)], bytes(4), exif, exif_pointers=pointers))
    assert (error.status, error.code) == (422, "image_too_complex")
    # Far more than a real file holds, yet under the caps: accepted.
    exif = {37500: (5, (7, 3) * 20_000), 37501: (12, (1.5,) * 500_000)}
    loads_cheaply(tiff_file([grey(2, 2)], bytes(4), exif), (2, 2))


@pytest.mark.parametrize(("big", "order"), [(False, "<"), (False, ">"), (True, "<")])
def test_only_a_tiffs_first_page_is_read_and_every_layout_is_checked(big, order):
    """Classic TIFF in both byte orders and BigTIFF (Pillow reads a big-endian BigTIFF as a classic
    TIFF, and so does the check). Pillow reads a later page only when asked to seek to it, and nothing
    does: the same flood on the second page costs nothing and the file is read."""
    flood = grey(2, 2, {282: (5, (72, 1) * 300_000)})
    error = refused_cheaply(tiff_file([flood, grey(2, 2)], bytes(4), big=big, order=order))
    assert (error.status, error.code) == (422, "image_too_complex")
    loads_cheaply(tiff_file([grey(2, 2), flood], bytes(4), big=big, order=order), (2, 2))
    # Real layouts at their extremes: 20 000 one-row strips of a tall scan, stored planar (60 000
    # strips, here all the same deflated row), and a picture in the smallest tiles TIFF allows.
    row = zlib.compress(bytes(200))
    planar = {258: (3, (8, 8, 8)), 259: (3, (DEFLATE,)), 262: (3, (2,)), 277: (3, (3,)), 284: (3, (2,))}
    planar |= {273: (4, lambda at: (at,) * 60_000), 278: (4, (1,)), 279: (4, (len(row),) * 60_000)}
    loads_cheaply(tiff_file([grey(200, 20_000, planar)], row, big=big, order=order), (200, 20_000))
    tile = zlib.compress(bytes(16 * 16))
    tiles = {259: (3, (DEFLATE,)), 322: (4, (16,)), 323: (4, (16,))}
    tiles |= {324: (4, lambda at: (at,) * 4096), 325: (4, (len(tile),) * 4096)}
    loads_cheaply(tiff_file([grey(1024, 1024, tiles, tiled=True)], tile, big=big, order=order), (1024, 1024))


def webp_with_frames(frames: int) -> bytes:
    """An animated 2x2 WebP of `frames` copies of one ANMF chunk (libwebp's demuxer counts them at open)."""
    buffer = io.BytesIO()
    images = [Image.new("RGB", (2, 2), (value, 0, 0)) for value in range(2)]
    images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], lossless=True, method=0)
    data = buffer.getvalue()
    start = data.find(b"ANMF")
    (length,) = struct.unpack("<I", data[start + 4 : start + 8])
    body = data[12:start] + data[start : start + 8 + length + (length & 1)] * frames
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def test_frame_counts_webp_and_mpo_report_at_open_are_limited(monkeypatch):
    """`max_frames` read Pillow's private `_n_frames`, which its WebP and MPO readers lack: a 19 MiB
    WebP of 433 106 frames got a verdict. (GIF and TIFF count frames only by seeking through the
    file, so they are still not counted.)"""
    assert load_image(webp_with_frames(decode_limits.MAX_FRAMES), SIZE).width == 2
    error = refused_cheaply(webp_with_frames(decode_limits.MAX_FRAMES + 1))
    assert (error.status, error.code) == (422, "image_too_complex")
    # An MPO's index sits in one 64 KiB segment, so it cannot list 10 001 images: a lower limit shows the check.
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (8, 8))])
    monkeypatch.setattr(decode_limits, "MAX_FRAMES", 1)
    with pytest.raises(ImageError) as refused:
        open_image(buffer.getvalue(), SIZE)
    assert (refused.value.status, refused.value.code) == (422, "image_too_complex")
