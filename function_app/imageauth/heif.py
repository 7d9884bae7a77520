"""HEIC/HEIF, what iPhones save by default, read through pi-heif: loaded only for a file that is one.

Why pi-heif and not pillow-heif: the same plug-in from the same project, built
for decoding only, so its wheel bundles libheif and libde265 (both LGPL,
loaded as shared libraries) and not the x265 encoder (GPL) that pillow-heif's
carries; this service never encodes.

Where: only in `heif_process`'s child process (fuzzing crashed this decoder; a
crash there costs one file's 415). The server process reads HEIF headers with
`coded_size` alone and never imports pi-heif; `preprocess` asks
`pillow_formats` which Pillow formats to try, and the child registers the
plug-in with the first HEIF it opens.
"""

from __future__ import annotations

import functools
import struct

# ftyp major brands of HEVC-coded HEIF files (ISO/IEC 23008-12 Annex B: "heic"/"heix" still images
# in 8-bit 4:2:0 / other, "heim"/"heis" multi-layer and scalable, "hevc"... their sequences), and the
# generic "mif1"/"msf1" that may also open an AVIF: Pillow tries AVIF first for those. The same list
# pi-heif's plug-in accepts.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
FORMAT = "HEIF"
# Image-spatial-extents boxes read at most, and where: in the file's `meta` box, which holds every
# item's properties (one `ispe` per image item: the primary image, a grid's tiles, a thumbnail).
MAX_ISPE_BOXES = 4096
MAX_TOP_LEVEL_BOXES = 16


def looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS


def pillow_formats(data: bytes, formats: tuple[str, ...]) -> tuple[str, ...]:
    """`formats` with HEIF when `data` starts like a HEIF (registering its plug-in), else without it."""
    if not looks_like_heif(data):
        return _without_heif(formats)
    register()
    return formats


@functools.cache
def _without_heif(formats: tuple[str, ...]) -> tuple[str, ...]:
    # Built once per formats tuple: every non-HEIF upload asks for it.
    return tuple(name for name in formats if name != FORMAT)


@functools.cache
def register() -> None:
    """Register pi-heif's Pillow plug-in, set up as every other decoder here is (twice is harmless)."""
    import pi_heif

    pi_heif.register_heif_opener(
        # One upload decodes on one core, like libavif here (admission control counts uploads).
        decode_threads=1,
        # The model sees the primary image only: no thumbnails, depth maps or auxiliary images
        # decoded into `info` when a file is opened.
        thumbnails=False,
        depth_images=False,
        aux_images=False,
    )


def coded_size(data: bytes) -> tuple[int, int]:
    """The largest image item of the file as coded (its `ispe` box), before cropping; (0, 0) if none.

    Pillow reports a HEIF's size after its clean-aperture crop (`clap`), but libheif decodes and
    converts the whole coded image first: a file may crop 16x16 out of 8000x8000. libheif refuses
    a coded stream whose size differs from its `ispe`, so this bounds what a decode holds. Read in
    Python from the bytes, so the server process can size a decode without loading the decoder;
    a stray "ispe" in the `meta` box's other data only makes the bound stricter.
    """
    start, end = _meta_box(data)
    largest, position = (0, 0), data.find(b"ispe", start, end)
    for _ in range(MAX_ISPE_BOXES):
        if position < 0:
            break
        if position + 16 <= end:  # type, version and flags, width, height
            width, height = struct.unpack_from(">II", data, position + 8)
            if width * height > largest[0] * largest[1]:
                largest = (width, height)
        position = data.find(b"ispe", position + 4, end)
    return largest


def _meta_box(data: bytes) -> tuple[int, int]:
    """(start, end) of the top-level `meta` box's contents; (0, 0) when there is none."""
    position = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if position + 8 > len(data):
            break
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1 and position + 16 <= len(data):  # a 64-bit size follows the type
            size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - position
        if kind == b"meta":
            return position + header, min(position + size, len(data))
        if size < header:
            break
        position += size
    return 0, 0
