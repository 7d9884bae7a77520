"""Whether a file carries an embedded C2PA manifest store, and how many bytes it announces.

A header walk, not a parse, kept apart from `provenance` because it runs on
every upload: only a file with a marker pays for importing c2pa-python's
native library (see `provenance.read_credentials`), and an announced size
over the limit is refused before c2pa-rs reads anything. So is a container
with more parts than c2pa-rs can walk in reasonable time (`crowded_container`).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from imageauth.container_chunks import (
    GIF_SIGNATURES,
    PNG_SIGNATURE,
    TIFF_SIGNATURES,
    bmff_boxes,
    gif_blocks,
    png_chunks,
    riff_chunks,
    tiff_directories,
)

# What c2pa-rs may walk of a container before it reads the manifest, at most. It maps the whole
# container first, in small reads that each call back into Python for the upload's bytes (3 to
# 15 us a box, block or directory entry), and its BMFF box tree costs time quadratic in the boxes
# under one parent: 20 000 empty boxes took 2 s of CPU, 80 000 (a 625 KB AVIF) 35 s. None of it is
# bounded by the decoder's limits, which these files pass. Measured with c2pa-python 0.38; the caps
# cost c2pa-rs at most about 0.1 s (boxes) and 1 s (blocks, entries):
# - BMFF boxes, counted where c2pa-rs looks (`container_chunks.BMFF_CONTAINERS`): a still HEIC or
#   AVIF has under 30 (ftyp, meta and its children, mdat, perhaps a uuid or free box), an animated
#   AVIF about 25 a track.
# - GIF blocks and sub-blocks: encoders fill sub-blocks to 255 bytes, so a 20 MiB GIF has about
#   82 000, and a frame adds a handful.
# - TIFF directory entries, over every page and the SubIFDs, Exif and GPS IFDs they point to (read
#   again for each pointer to them): a page has tens, its Exif IFD about 50.
# JPEG segments and PNG chunks before the pixels are bounded by the decoder's parser-step cap
# (`decode_limits.MAX_PARSER_READS`), and c2pa-rs reads WebP chunks, and whatever follows a PNG's
# IEND or a JPEG's EOI, in bulk: 500 000 of them cost it under 0.05 s, so those are not counted.
MAX_BMFF_BOXES = 4096
MAX_GIF_BLOCKS = 2**18
MAX_TIFF_ENTRIES = 2**16


def manifest_size(data: bytes) -> int | None:
    """Bytes of embedded C2PA manifest store the file announces, or None when it carries no marker.

    A header walk, not a parse: the markers are where the C2PA specification
    puts a manifest (section "Embedding manifests into assets"); c2pa-rs does
    the reading and validating.
    """
    if data.startswith(b"\xff\xd8"):
        return _jpeg_app11_bytes(data)
    if data.startswith(PNG_SIGNATURE):
        return _announced_bytes(png_chunks(data), b"caBX")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _announced_bytes(riff_chunks(data), b"C2PA")
    return _jumbf_store_bytes(data)


def crowded_container(data: bytes) -> str | None:
    """Why c2pa-rs must not walk this file's container (more parts than any real image has), or None.

    The reason completes "could not be read (...)" in the evidence entry; the limits are above.
    """
    if data[4:8] == b"ftyp":
        if sum(1 for _ in bmff_boxes(data, MAX_BMFF_BOXES + 1)) > MAX_BMFF_BOXES:
            return f"its container holds more than {MAX_BMFF_BOXES} boxes, too many to read"
    elif data.startswith(GIF_SIGNATURES):
        if sum(1 for _ in gif_blocks(data, MAX_GIF_BLOCKS + 1)) > MAX_GIF_BLOCKS:
            return f"the GIF holds more than {MAX_GIF_BLOCKS} blocks, too many to read"
    elif data.startswith(TIFF_SIGNATURES):
        entries = 0
        for _, count in tiff_directories(data, MAX_TIFF_ENTRIES + 1):
            entries += 1 + count  # a directory's own count and pointer cost c2pa-rs reads too
            if entries > MAX_TIFF_ENTRIES:
                return f"the TIFF's directories hold more than {MAX_TIFF_ENTRIES} entries, too many to read"
    return None


# The C2PA manifest store's JUMBF description box: type "jumd", then the store's UUID, which starts
# with "c2pa" (63327061-0011-0010-8000-00AA00389B71; C2PA spec "Manifest store").
STORE_DESCRIPTION = b"jumdc2pa"
MAX_STORE_CANDIDATES = 16


def _jumbf_store_bytes(data: bytes) -> int | None:
    """GIF, TIFF and the rest: the first C2PA manifest store superbox, wherever the container put it.

    The superbox is "jumb" after its 4-byte length (or after a length of 1 and an 8-byte XLBox), and
    its first child is the description box with the store's UUID. A stray "jumb" (a TIFF description
    that says "jumbo", pixel data) is not a store and must not hide the one that follows.
    """
    position = data.find(STORE_DESCRIPTION)
    for _ in range(MAX_STORE_CANDIDATES):
        if position < 0:
            return None
        # The description box's own length precedes "jumd"; the superbox header precedes that.
        if position >= 12 and data[position - 8 : position - 4] == b"jumb":
            return struct.unpack_from(">I", data, position - 12)[0]
        extended = position >= 20 and data[position - 16 : position - 12] == b"jumb"
        if extended and struct.unpack_from(">I", data, position - 20)[0] == 1:
            return struct.unpack_from(">Q", data, position - 12)[0]
        position = data.find(STORE_DESCRIPTION, position + 1)
    return None


def _jpeg_app11_bytes(data: bytes) -> int | None:
    # Segments up to the first scan: APP11 (0xFFEB) segments whose payload starts with the JPEG XT
    # common identifier "JP" hold the JUMBF boxes (ISO/IEC 19566-5, C2PA spec "Embedding in JPEG").
    total, position, found = 0, 2, False
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # standalone markers carry no length
            position += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image: no more metadata segments
            break
        length = struct.unpack_from(">H", data, position + 2)[0]
        if marker == 0xEB and data[position + 4 : position + 6] == b"JP":
            total += length
            found = True
        position += 2 + length
    return total if found else None


def _announced_bytes(chunks: Iterator[tuple[bytes, int, int]], kind: bytes) -> int | None:
    """The lengths of every `kind` chunk added up (a store may be split over several), or None."""
    lengths = [length for chunk, _, length in chunks if chunk == kind]
    return sum(lengths) if lengths else None
