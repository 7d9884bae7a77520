"""The Qt resource reader gets back every file of a bundle, compressed or not, at its path."""

from __future__ import annotations

import pytest
from qt_bundle import build_rcc

from training.qt_resources import ResourceFormatError, read_rcc


def test_reads_every_file_at_its_path_plain_and_zlib() -> None:
    files = {
        "erase/resource/fox.jpg": b"\xff\xd8\xff fox" * 50,
        "erase/resource/owl.jpg": b"\xff\xd8\xff owl" * 50,
        "erase/ActivityInfo.qml": b"import QtQuick 2.12\n" * 20,
        "top.txt": b"at the root",
    }
    bundle = build_rcc(files, compressed=frozenset({"erase/ActivityInfo.qml", "erase/resource/owl.jpg"}))
    assert read_rcc(bundle) == files


def test_refuses_what_is_not_a_bundle() -> None:
    with pytest.raises(ResourceFormatError):
        read_rcc(b"\x89PNG\r\n\x1a\n" + bytes(40))
    bundle = bytearray(build_rcc({"a": b"x"}))
    bundle[4:8] = (9).to_bytes(4, "big")
    with pytest.raises(ResourceFormatError, match="version"):
        read_rcc(bytes(bundle))
