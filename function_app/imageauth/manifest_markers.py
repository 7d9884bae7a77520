"""Whether a file carries an embedded C2PA manifest store, and how many bytes it announces.

A header walk, not a parse, kept apart from `provenance` because it runs on
every upload: only a file with a marker pays for importing c2pa-python's
native library (see `provenance.read_credentials`), and an announced size
over the limit is refused before c2pa-rs reads anything.
"""

from __future__ import annotations

import struct


def manifest_size(data: bytes) -> int | None:
    """Bytes of embedded C2PA manifest store the file announces, or None when it carries no marker.

    A header walk, not a parse: the markers are where the C2PA specification
    puts a manifest (section "Embedding manifests into assets"); c2pa-rs does
    the reading and validating.
    """
    if data.startswith(b"\xff\xd8"):
        return _jpeg_app11_bytes(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _chunk_bytes(data, 8, b"caBX", big_endian=True, header=8, trailer=4)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _chunk_bytes(data, 12, b"C2PA", big_endian=False, header=8, trailer=0, pad=True)
    # GIF, TIFF and the rest: any JUMBF superbox ("jumb" after its 4-byte length) with a C2PA label.
    index = data.find(b"jumb")
    if index < 4 or data.find(b"c2pa", index) < 0:
        return None
    return struct.unpack_from(">I", data, index - 4)[0]


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


def _chunk_bytes(
    data: bytes, position: int, kind: bytes, big_endian: bool, header: int, trailer: int, pad: bool = False
) -> int | None:
    # PNG chunks (length, type, data, CRC) and RIFF chunks (type, length, data, pad byte) alike.
    total, found = 0, False
    layout = ">I4s" if big_endian else "<4sI"
    while position + header <= len(data):
        first, second = struct.unpack_from(layout, data, position)
        length, chunk = (first, second) if big_endian else (second, first)
        if chunk == kind:
            total += length
            found = True
        position += header + length + trailer + (length & 1 if pad else 0)
    return total if found else None
