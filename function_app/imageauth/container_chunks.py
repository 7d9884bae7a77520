"""The top-level chunks of a PNG or RIFF (WebP) file, as one bounded walk for every reader of them.

Three readers walk these chunks on every upload before anything is decoded
(`manifest_markers` for a C2PA store, `skipped_metadata` for the metadata Pillow
skips); walking in one place keeps their bounds the same: a walk stops at a
truncated chunk header, at a PNG's IEND, and after `MAX_CHUNKS` chunks.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks walked at most: a walk is Python, about a microsecond a chunk, and a 20 MB WebP of empty
# chunks holds 2.6 million (1.8 s of CPU). Real files have a handful; an animated WebP one a frame,
# and no more frames than this get through the decoder's limits.
MAX_CHUNKS = 65_536
PNG_HEADER = struct.Struct(">I4s")  # length, type; the data and a 4-byte CRC follow
RIFF_HEADER = struct.Struct("<4sI")  # type, length; the data and a pad byte to an even length follow


def png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of its data, announced length) of each chunk before IEND; nothing for a non-PNG.

    The length is what the header says: a reader copies `data[offset : offset + length]`, which
    is shorter when the file is cut. What follows IEND (junk, or a flood of fake chunks) is no
    part of the file.
    """
    if not data.startswith(PNG_SIGNATURE):
        return
    position, end, unpack = len(PNG_SIGNATURE), len(data) - 8, PNG_HEADER.unpack_from  # locals: a hot loop
    for _ in range(MAX_CHUNKS):
        if position > end:
            return
        length, kind = unpack(data, position)
        if kind == b"IEND":
            return
        yield kind, position + 8, length
        position += 12 + length


def riff_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of its data, announced length) of each top-level chunk of a WebP file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return
    position, end, unpack = 12, len(data) - 8, RIFF_HEADER.unpack_from
    for _ in range(MAX_CHUNKS):
        if position > end:
            return
        kind, length = unpack(data, position)
        yield kind, position + 8, length
        position += 8 + length + (length & 1)
