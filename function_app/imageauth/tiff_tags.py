"""TIFF tag arrays bounded from the raw bytes, before Pillow opens the file.

Pillow's TIFF reader expands tag values into Python objects while it opens a
file, so the limits `decode_limits` checks on an opened image come too late
for them: see `check_tiff_tags`. Refusals are 422 `image_too_complex`.
"""

from __future__ import annotations

import math
import struct

from imageauth.decode_limits import (
    MAX_TILES,
    TIFF_BITS_PER_SAMPLE,
    TIFF_SAMPLES_PER_PIXEL,
    TIFF_TILE_LENGTH,
    TIFF_TILE_WIDTH,
    TooComplex,
)

# Tags whose value counts `check_tiff_tags` bounds (see there), and the sub-IFDs Pillow reads whole.
TIFF_IMAGE_WIDTH, TIFF_IMAGE_LENGTH, TIFF_COMPRESSION, TIFF_PLANAR_CONFIGURATION = 256, 257, 259, 284
TIFF_STRIP_ARRAYS = (273, 279)  # StripOffsets, StripByteCounts
TIFF_TILE_ARRAYS = (324, 325)  # TileOffsets, TileByteCounts
TIFF_RESOLUTIONS = (282, 283)  # XResolution, YResolution
TIFF_COLOR_MAP = 320
TIFF_EXIF_IFD, TIFF_GPS_IFD, TIFF_INTEROP_IFD = 34665, 34853, 40965
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# Value types Pillow unpacks into Python numbers, by the bytes a value takes. BYTE, ASCII and
# UNDEFINED stay one bytes object, and Pillow skips types it does not know: neither is counted.
TIFF_NUMBER_BYTES = {3: 2, 4: 4, 5: 8, 6: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}
# Types Pillow reads as Python ints, which it would follow as an IFD pointer.
TIFF_INTEGERS = {3: "H", 4: "I", 6: "b", 8: "h", 9: "l", 13: "I", 16: "Q"}
TIFF_RATIONALS = (5, 10)  # each one becomes a Python fraction object: about 3 us and 200 bytes
MAX_TIFF_ENTRIES = 65_535  # classic TIFF's most; only BigTIFF's 64-bit count can claim more
MAX_TIFF_STRIPS = 2**18  # strips or tiles, and their byte counts, in one IFD
MAX_TIFF_PALETTE = 3 * 65_536  # ColorMap of a 16-bit palette
MIN_TIFF_SAMPLES = 16  # BitsPerSample values allowed whatever SamplesPerPixel says
MAX_TIFF_VALUES = 2**20  # numbers over the first IFD and its Exif, GPS and Interoperability IFDs
MAX_TIFF_RATIONAL_VALUES = 2**16


def check_tiff_tags(data: bytes) -> None:
    """Raise `TooComplex` when a TIFF's tag arrays would cost Pillow far more than any real file's.

    Pillow's TIFF reader turns tag values into Python objects as it opens the
    file, before `check_structure` sees it: one tile tuple per StripOffsets or
    TileOffsets entry of an uncompressed TIFF, a fraction object per RATIONAL
    (XResolution), a tuple for BitsPerSample and ColorMap. A 20 MB file with
    10 million strip offsets took 25 s of CPU and 2.5 GiB; one with 2.5 million
    XResolution values, 13 s and a verdict. When it decodes a single-page TIFF,
    and when `provenance` reads EXIF, it also expands every tag of the Exif, GPS
    and Interoperability IFDs. So the value counts are read from the raw bytes
    first: the first IFD (later pages are read only if someone seeks to them,
    and nothing here does) and those sub-IFDs. Only values Pillow would load
    count: numbers (BYTE, ASCII and UNDEFINED data stays one bytes object, as
    cheap as the upload), the first of repeated tags, data inside the file.

    The rules, each far above what real files hold:

    - At most 65 535 entries in an IFD, classic TIFF's maximum (BigTIFF's count is 64-bit).
    - XResolution and YResolution: one value, as the specification says.
    - BitsPerSample: one value a sample (SamplesPerPixel), and 16 whatever it says,
      for writers that leave SamplesPerPixel out or repeat values.
    - ColorMap: 3 x 65 536 values, a 16-bit palette.
    - StripOffsets and StripByteCounts: one a row (a strip holds at least one row),
      TileOffsets and TileByteCounts one a tile, times SamplesPerPixel for planar
      files; and never more than 2^18. A 50 000-row scan in one-row strips has
      50 000 strips, 150 000 for planar RGB; a 50-megapixel image in the smallest
      (16 x 16) tiles 195 313. An uncompressed TIFF, which Pillow reads strip by strip in
      Python, has at most `MAX_TILES`, as `check_structure` always required after opening.
    - All numbers together at most 2^20 (a few tens of MB of Python objects,
      tenths of a second), RATIONALs at most 2^16 (each is a Python object
      of about 3 us): a real file holds a few hundred, a MetaMorph stack two a plane.
    """
    if not data.startswith(TIFF_SIGNATURES):
        return
    endian = "<" if data[:2] == b"II" else ">"
    big = data[2] == 0x2B  # as Pillow decides: a big-endian BigTIFF is read as a classic TIFF
    pointer = struct.unpack_from(endian + ("Q" if big else "I"), data, 8 if big else 4)[0] if len(data) >= 16 else 0
    first = _tiff_ifd(data, pointer or None, endian, big)  # Pillow has no first page at 0, but follows 0 below
    exif = _tiff_ifd(data, _tiff_number(first, TIFF_EXIF_IFD), endian, big)
    ifds = (first, exif, _tiff_ifd(data, _tiff_number(first, TIFF_GPS_IFD), endian, big))
    ifds += (_tiff_ifd(data, _tiff_number(exif, TIFF_INTEROP_IFD), endian, big),)
    samples = min(max(_tiff_number(first, TIFF_SAMPLES_PER_PIXEL) or 1, 1), 65_535)
    limits = {TIFF_BITS_PER_SAMPLE: max(samples, MIN_TIFF_SAMPLES), TIFF_COLOR_MAP: MAX_TIFF_PALETTE}
    limits.update(dict.fromkeys(TIFF_RESOLUTIONS, 1))
    limits.update(dict.fromkeys(TIFF_STRIP_ARRAYS + TIFF_TILE_ARRAYS, _tiff_strips(first, samples)))
    for tag, (_, count, _) in first.items():
        if count > limits.get(tag, count):
            raise TooComplex(f"the TIFF's tag {tag} has {count} values, more than the {limits[tag]} its image allows")
    values = sum(count for ifd in ifds for _, count, _ in ifd.values())
    if values > MAX_TIFF_VALUES:
        raise TooComplex(f"the TIFF's tags hold {values} numbers, more than {MAX_TIFF_VALUES}")
    rationals = sum(count for ifd in ifds for kind, count, _ in ifd.values() if kind in TIFF_RATIONALS)
    if rationals > MAX_TIFF_RATIONAL_VALUES:
        raise TooComplex(f"the TIFF's tags hold {rationals} fractions, more than {MAX_TIFF_RATIONAL_VALUES}")


def _tiff_strips(ifd: dict[int, tuple[int, int, int | None]], samples: int) -> int:
    """The most strips or tiles (so offsets and byte counts) the IFD's image can have; see `check_tiff_tags`."""
    width, height = max(_tiff_number(ifd, TIFF_IMAGE_WIDTH) or 0, 0), max(_tiff_number(ifd, TIFF_IMAGE_LENGTH) or 0, 0)
    tile_width, tile_length = _tiff_number(ifd, TIFF_TILE_WIDTH) or 0, _tiff_number(ifd, TIFF_TILE_LENGTH) or 0
    planes = samples if _tiff_number(ifd, TIFF_PLANAR_CONFIGURATION) == 2 else 1
    if any(tag in ifd for tag in TIFF_TILE_ARRAYS):
        tiled = tile_width > 0 and tile_length > 0
        tiles = math.ceil(width / tile_width) * math.ceil(height / tile_length) if tiled else 0
    else:
        tiles = height
    most = min(tiles * planes, MAX_TIFF_STRIPS) if tiles else MAX_TIFF_STRIPS
    uncompressed = (_tiff_number(ifd, TIFF_COMPRESSION) or 1) == 1
    return min(most, MAX_TILES) if uncompressed else most


def _tiff_ifd(data: bytes, offset: int | None, endian: str, big: bool) -> dict[int, tuple[int, int, int | None]]:
    """The IFD at `offset` as {tag: (type, count, first value if an integer)}, read as Pillow reads it.

    Only tags Pillow would load as numbers. Pillow takes the first value of a tag the specification
    gives one (an IFD pointer, ImageWidth), whatever the count. Empty when no IFD fits there.
    """
    head, size = (8, 20) if big else (2, 12)
    if offset is None or not 0 <= offset <= len(data) - head:
        return {}
    (entries,) = struct.unpack_from(endian + ("Q" if big else "H"), data, offset)
    if entries > MAX_TIFF_ENTRIES:
        raise TooComplex(f"a TIFF IFD has {entries} entries, more than {MAX_TIFF_ENTRIES}")
    start = offset + head
    entries = min(entries, (len(data) - start) // size)
    fields = struct.iter_unpack(endian + ("HHQ8s" if big else "HHI4s"), data[start : start + entries * size])
    ifd: dict[int, tuple[int, int, int | None]] = {}
    for tag, kind, count, value in fields:
        if tag in ifd or kind not in TIFF_NUMBER_BYTES or not count:
            continue
        where, length = None, count * TIFF_NUMBER_BYTES[kind]
        if length > len(value):  # stored elsewhere: Pillow skips data that is not in the file
            (where,) = struct.unpack(endian + ("Q" if big else "I"), value)
            if where + length > len(data):
                continue
        integer = TIFF_INTEGERS.get(kind)
        source = value if where is None else data
        ifd[tag] = (kind, count, struct.unpack_from(endian + integer, source, where or 0)[0] if integer else None)
    return ifd


def _tiff_number(ifd: dict[int, tuple[int, int, int | None]], tag: int) -> int | None:
    """The tag's (first) value when it is an integer, else None."""
    return ifd.get(tag, (0, 0, None))[2]
