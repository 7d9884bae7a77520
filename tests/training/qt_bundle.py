"""A writer of Qt resource bundles (`.rcc`, format version 2), for tests of the reader.

Written from Qt's format (rcc.cpp) rather than with Qt's `rcc` tool, which is
not installed here: header, data area, names table, then the tree of entries in
breadth-first order, each directory's children contiguous.
"""

from __future__ import annotations

import struct
import zlib


def build_rcc(files: dict[str, bytes], compressed: frozenset[str] = frozenset()) -> bytes:
    tree: dict = {}
    for path, content in files.items():
        *folders, name = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = content

    data, names, name_offsets = bytearray(), bytearray(), {}

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            encoded = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(name), zlib.crc32(encoded)) + encoded)
        return name_offsets[name]

    entries: list[bytes] = []
    queue: list[tuple[str, object, str]] = [("", tree, "")]  # (name, node, path)
    next_index = 1
    while queue:
        name, node, path = queue.pop(0)
        offset = name_offset(name) if path else 0
        if isinstance(node, dict):
            children = sorted(node.items())
            entries.append(struct.pack(">IHII", offset, 0x02, len(children), next_index) + bytes(8))
            next_index += len(children)
            queue.extend((child, sub, f"{path}/{child}".lstrip("/")) for child, sub in children)
        else:
            payload = node
            flags = 0
            if path in compressed:
                payload, flags = struct.pack(">I", len(node)) + zlib.compress(node), 0x01
            entries.append(struct.pack(">IHHHI", offset, flags, 0, 0, len(data)) + bytes(8))
            data.extend(struct.pack(">I", len(payload)) + payload)
    header_size = 20
    data_offset = header_size
    names_offset = data_offset + len(data)
    tree_offset = names_offset + len(names)
    header = b"qres" + struct.pack(">4I", 2, tree_offset, data_offset, names_offset)
    return header + bytes(data) + bytes(names) + b"".join(entries)
