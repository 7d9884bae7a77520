"""The top-level chunks of a PNG or RIFF (WebP) file, as one bounded walk for every reader of them.

Three readers walk these chunks on every upload before anything is decoded
(`manifest_markers` for a C2PA store, `skipped_metadata` for the metadata Pillow
skips); walking in one place keeps their bounds the same: a walk stops at a
truncated chunk header, at a PNG's IEND, and after `MAX_CHUNKS` chunks.

The structures c2pa-rs walks in the other containers are here too: ISO-BMFF
boxes (AVIF, HEIC), GIF blocks and TIFF directories. `manifest_markers` counts
them, each walk stopping after the `limit` it is given, before a file with a
manifest marker is handed to c2pa-rs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from imageauth.tiff_tags import TIFF_SIGNATURES

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


BMFF_HEADER = struct.Struct(">I4s")  # size, type; a size of 1 puts a 64-bit size after the type
# Boxes whose children c2pa-rs maps as well (its `bmff_io` box tree; measured with c2pa-python 0.38:
# empty boxes inside any of these cost what as many at the top level do, inside others nothing).
# `meta` is a FullBox: 4 bytes of version and flags before its children.
BMFF_CONTAINERS = frozenset(
    (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf", b"mvex", b"mfra", b"edts", b"dinf", b"udta")
    + (b"tref", b"schi", b"meta")
)


def bmff_boxes(data: bytes, limit: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset, announced size) of an ISO-BMFF file's boxes (AVIF, HEIC), at most `limit` of them.

    The top-level boxes and, depth first, the children of those in `BMFF_CONTAINERS`. A size of 0
    runs to the end of the parent; a walk through a parent stops at a box too short for its own
    header or at the parent's end. Nothing for a file that does not start with `ftyp`.
    """
    if data[4:8] != b"ftyp":
        return
    unpack, walked = BMFF_HEADER.unpack_from, 0
    parents = [(0, len(data))]  # (where the next box starts, where the parent ends)
    while parents:
        position, end = parents.pop()
        while position + 8 <= end:
            size, kind = unpack(data, position)
            header = 8
            if size == 1:
                if position + 16 > end:
                    break
                size, header = struct.unpack_from(">Q", data, position + 8)[0], 16
            elif size == 0:
                size = end - position
            if size < header:
                break
            yield kind, position, size
            walked += 1
            if walked >= limit:
                return
            if kind in BMFF_CONTAINERS:
                parents.append((position + size, end))
                position, end = position + header + (4 if kind == b"meta" else 0), min(position + size, end)
            else:
                position += size


GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
GIF_IMAGE, GIF_EXTENSION, GIF_TRAILER = 0x2C, 0x21, 0x3B


def gif_blocks(data: bytes, limit: int) -> Iterator[tuple[int, int, int]]:
    """(label, offset, length) of a GIF's data sub-blocks, each block's terminator included, at most `limit`.

    The label is the extension's (0xF9 graphic control, 0xFE comment, 0xFF application...) or
    0x2C for an image's LZW data. A walk stops at the trailer, at a byte that starts no block, and
    at the end of the data.
    """
    if not data.startswith(GIF_SIGNATURES) or len(data) < 13:
        return
    position, end, walked = 13 + _gif_colour_table(data[10]), len(data), 0
    while position < end:
        introducer = data[position]
        if introducer == GIF_EXTENSION and position + 2 <= end:
            label, position = data[position + 1], position + 2
        elif introducer == GIF_IMAGE and position + 10 <= end:
            # The image descriptor (9 bytes after the introducer), its colour table, the LZW code size.
            label, position = GIF_IMAGE, position + 11 + _gif_colour_table(data[position + 9])
        else:
            return
        while position < end:
            length = data[position]
            yield label, position + 1, length
            walked += 1
            if walked >= limit:
                return
            position += 1 + length
            if length == 0:
                break


def _gif_colour_table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


# SubIFDs, Exif IFD, GPS IFD: c2pa-rs reads the directories each page points to with these.
TIFF_SUB_IFD_TAGS = (330, 34665, 34853)
TIFF_OFFSET_BYTES = {4: 4, 13: 4, 16: 8, 18: 8}  # LONG, IFD, LONG8, IFD8: value types that hold offsets


def tiff_directories(data: bytes, limit: int) -> Iterator[tuple[int, int]]:
    """(offset, entries) of the directories c2pa-rs reads in a TIFF (classic or BigTIFF), at most `limit`.

    Every page of the IFD chain, each followed by the SubIFDs, Exif and GPS IFDs it points to;
    a directory pointed to twice is read, and yielded, twice. `entries` counts only the entries
    that fit in the file. A walk stops at a pointer to no directory.
    """
    if not data.startswith(TIFF_SIGNATURES) or len(data) < 16:
        return
    endian = "<" if data[:2] == b"II" else ">"
    big = data[2:4] in (b"+\x00", b"\x00+")
    word = endian + ("Q" if big else "I")
    head, entry, word_bytes = (8, 20, 8) if big else (2, 12, 4)
    counter = struct.Struct(endian + ("Q" if big else "H"))

    def entries_at(offset: int) -> int | None:
        if not 0 < offset <= len(data) - head:
            return None
        return min(counter.unpack_from(data, offset)[0], (len(data) - offset - head) // entry)

    page, walked = struct.unpack_from(word, data, 8 if big else 4)[0], 0
    while (entries := entries_at(page)) is not None:
        yield page, entries
        walked += 1
        if walked >= limit:
            return
        start = page + head
        for index in range(entries):
            tag, kind, count = struct.unpack_from(endian + ("HHQ" if big else "HHI"), data, start + index * entry)
            if tag not in TIFF_SUB_IFD_TAGS or kind not in TIFF_OFFSET_BYTES:
                continue
            size = TIFF_OFFSET_BYTES[kind]
            where = start + index * entry + 4 + word_bytes
            if count * size > word_bytes:  # the offsets are stored elsewhere
                where = struct.unpack_from(word, data, where)[0]
            for value in range(where, min(where + count * size, len(data) - size + 1), size):
                child = struct.unpack_from(endian + ("Q" if size == 8 else "I"), data, value)[0]
                if (child_entries := entries_at(child)) is not None:
                    yield child, child_entries
                    walked += 1
                    if walked >= limit:
                        return
        next_pointer = start + entries * entry
        if next_pointer + word_bytes > len(data):
            return
        page = struct.unpack_from(word, data, next_pointer)[0]
