"""Whether a file carries an embedded C2PA manifest store, and how many bytes it announces.

A header walk, not a parse, kept apart from `provenance` because it runs on
every upload: only a file with a marker pays for importing c2pa-python's
native library (see `provenance.read_credentials`), and an announced size
over the limit is refused before c2pa-rs reads anything.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from imageauth.container_chunks import PNG_SIGNATURE, png_chunks, riff_chunks


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
