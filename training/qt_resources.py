"""Read the files inside a compiled Qt resource bundle (`.rcc`).

GCompris ships its photographs inside `.rcc` bundles, one per activity, rather
than as loose files; this reads them without Qt (no PyPI package does). The
format is Qt's `rcc` binary (versions 1-3): a header, a tree of fixed-size
entries, a table of UTF-16 names and a data area whose entries may be zlib- or
zstd-compressed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

MAGIC = b"qres"
FLAG_COMPRESSED = 0x01
FLAG_DIRECTORY = 0x02
FLAG_COMPRESSED_ZSTD = 0x04


class ResourceFormatError(ValueError):
    """The bytes are not a Qt resource bundle this reader understands."""


def read_rcc(data: bytes) -> dict[str, bytes]:
    """Every file in the bundle, by its path inside it ("images/fox.jpg")."""
    if data[:4] != MAGIC:
        raise ResourceFormatError("not a Qt resource bundle (no 'qres' magic)")
    version, tree_offset, data_offset, names_offset = struct.unpack_from(">4I", data, 4)
    if version not in (1, 2, 3):
        raise ResourceFormatError(f"unsupported rcc version {version}")
    entry_size = 14 if version == 1 else 22

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", data, names_offset + offset)
        start = names_offset + offset + 6  # length (2) + hash (4)
        return data[start : start + 2 * length].decode("utf-16-be")

    def payload(offset: int, flags: int) -> bytes:
        (size,) = struct.unpack_from(">I", data, data_offset + offset)
        raw = data[data_offset + offset + 4 : data_offset + offset + 4 + size]
        if flags & FLAG_COMPRESSED:
            return zlib.decompress(raw[4:])  # qCompress: 4-byte big-endian length, then zlib
        if flags & FLAG_COMPRESSED_ZSTD:
            raise ResourceFormatError("zstd-compressed entry (not used by the packages read here)")
        return raw

    files: dict[str, bytes] = {}

    def walk(index: int, prefix: str) -> None:
        base = tree_offset + index * entry_size
        name_offset, flags = struct.unpack_from(">IH", data, base)
        name = "" if index == 0 else name_at(name_offset)
        path = f"{prefix}/{name}" if prefix else name
        if flags & FLAG_DIRECTORY:
            count, first_child = struct.unpack_from(">II", data, base + 6)
            for child in range(first_child, first_child + count):
                walk(child, path)
        else:
            (offset,) = struct.unpack_from(">I", data, base + 10)
            files[path] = payload(offset, flags)

    walk(0, "")
    return files


def read_rcc_file(path: Path) -> dict[str, bytes]:
    return read_rcc(path.read_bytes())
