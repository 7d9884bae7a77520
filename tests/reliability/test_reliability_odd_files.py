"""Files and requests outside the corpus of badinputs.py that once broke a rule of docs/reliability.md.

Every file is generated here (Pillow, numpy, zlib, struct), nothing is committed.
Each test below failed before its fix. The last two are fixes in files the training
pipeline's dvc.lock records (decode_limits.py, pixels.py), landed with a `dvc repro`
that re-ran evaluate and export.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from badinputs import small_jpeg
from PIL import Image

from imageauth.predict import predict_bytes
from imageauth.preprocess import MAX_TEXT_BYTES, ImageError, load_image, open_image
from imageauth.settings import Settings

pytestmark = pytest.mark.timeout(120)
SIZE = 32
TIMEOUT = httpx.Timeout(30.0)
CLI = Path(sys.executable).with_name("imageauth")
MEBIBYTE = 1024 * 1024


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# ------------------------------------------------------------------ HTTP: multipart


def multipart_body(boundary: bytes, parts: list[tuple[bytes, bytes]]) -> bytes:
    """`parts` are (Content-Disposition value, data)."""
    body = b"".join(
        b"--" + boundary + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + data + b"\r\n"
        for disposition, data in parts
    )
    return body + b"--" + boundary + b"--\r\n"


@pytest.mark.parametrize(("charset", "filename"), [("utf-7", b"+2AA-.jpg"), ("unicode_escape", b"\\ud800.jpg")])
def test_a_filename_that_decodes_to_a_lone_surrogate_gets_its_verdict(api_server, charset, filename):
    """The multipart `charset` parameter decides how Starlette decodes filenames; some decode to lone
    surrogates, which made the JSON answer unencodable: a 500 for a valid image."""
    body = multipart_body(b"b0undary", [(b'form-data; name="file"; filename="' + filename + b'"', small_jpeg())])
    response = httpx.post(
        f"{api_server.base_url}/api/predict",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary=b0undary; charset={charset}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["results"]
    assert item["filename"] == "\ufffd.jpg"
    assert item["label"] in ("real", "fake")


def test_a_flood_of_false_multipart_delimiters_is_refused_at_once(api_server):
    """Each `\\r\\n--BOUNDARY` not followed by the end of a delimiter line costs python-multipart about a
    microsecond: 64 MB of them held the server's event loop for 8 s. A well-formed body has one per part."""
    fake = b"\r\n--b0undaryX"
    flood = multipart_body(
        b"b0undary", [(b'form-data; name="file"; filename="a.jpg"', fake * (12 * MEBIBYTE // len(fake)))]
    )
    started = time.perf_counter()
    response = httpx.post(
        f"{api_server.base_url}/api/predict",
        content=flood,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=TIMEOUT,
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_request"
    assert elapsed < 5, elapsed  # the parser alone took about 1.5 s of CPU for these 12 MB
    # The most parts a request may have (16 files and 16 text fields) still pass the count.
    parts = [(b'form-data; name="file"; filename="%d.jpg"' % index, small_jpeg(index)) for index in range(16)]
    parts += [(b'form-data; name="note%d"' % index, b"x") for index in range(16)]
    largest = httpx.post(
        f"{api_server.base_url}/api/predict",
        content=multipart_body(b"b0undary", parts),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=TIMEOUT,
    )
    assert largest.status_code == 200, largest.text
    assert [item["filename"] for item in largest.json()["results"]] == [f"{index}.jpg" for index in range(16)]


# ------------------------------------------------------------------ CLI: file names


def test_the_cli_reports_a_file_name_that_is_not_utf8(tmp_path):
    """Linux file names are bytes; Python decodes the non-UTF-8 ones to lone surrogates, and writing
    them to a strict UTF-8 stdout (any UTF-8 locale but C.UTF-8) killed the run with a traceback."""
    (tmp_path / "latin-1 caf\udce9.jpg").write_bytes(small_jpeg(2))  # the bytes b"caf\xe9"
    (tmp_path / "plain.jpg").write_bytes(small_jpeg(3))
    for output in ("json", "table", "csv"):
        completed = subprocess.run(
            [str(CLI), "predict", "--no-progress", "--format", output, str(tmp_path)],
            capture_output=True, timeout=150, check=False,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr.decode(errors="replace")[-500:]
        text = completed.stdout.decode("utf-8")  # strict: the output is valid UTF-8
        if output == "json":
            names = [Path(item["filename"]).name for item in json.loads(text)["results"]]
            assert names == ["latin-1 caf\\xe9.jpg", "plain.jpg"]
        else:
            assert "latin-1 caf\\xe9.jpg" in text


# ------------------------------------------------------------------ memory: PNG text chunks

TEXT_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from imageauth.predict import predict_bytes

    def peak_mib():
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) // 1024

    data = Path(sys.argv[1]).read_bytes()
    predict_bytes(Path(sys.argv[2]).read_bytes())  # warm: the model and the imports
    before = peak_mib()
    item = predict_bytes(data)
    print(json.dumps({"label": item["label"], "growth_mib": peak_mib() - before}))
    """
)


def png_with_text(chunks: int, kind: bytes = b"zTXt", after_pixels: bool = False) -> bytes:
    """An 8x8 PNG with `chunks` compressed text chunks of just under 1 MiB each (Pillow's per-chunk limit)."""
    image = encode(Image.new("RGB", (8, 8), "gray"), "PNG")
    compressed = zlib.compress(b"a" * (MEBIBYTE - 1), 9)
    header = b"\0\0" if kind == b"zTXt" else b"\0\1\0\0\0"
    text = b"".join(png_chunk(kind, b"k%d" % index + header + compressed) for index in range(chunks))
    at = len(image) - 12 if after_pixels else 8 + 25  # before IEND, or right after IHDR
    return image[:at] + text + image[at:]


def test_png_text_chunks_are_held_once_not_twice(tmp_path):
    """Compressed text chunks decompress into `info`, which the decode's copy of the file kept alive
    while the evidence step read the file again: 63 chunks (a 66 kB file) held 129 MiB, not 65."""
    bomb, warm = tmp_path / "text.png", tmp_path / "warm.jpg"
    bomb.write_bytes(png_with_text(7))  # under MAX_TEXT_BYTES: a verdict
    warm.write_bytes(small_jpeg())
    completed = subprocess.run(
        [sys.executable, "-c", TEXT_PROBE, str(bomb), str(warm)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(completed.stdout.splitlines()[-1])
    assert result["label"] in ("real", "fake")
    assert result["growth_mib"] < 12, result  # 7 MiB held once (twice: 14)


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt"])
@pytest.mark.parametrize("after_pixels", [False, True])
def test_more_png_text_than_max_text_bytes_is_refused(kind, after_pixels):
    """Pillow's own cap was 64 MiB a file: a 66 kB PNG held 63 MiB outside the decode budget."""
    chunks = MAX_TEXT_BYTES // MEBIBYTE + 1
    bomb = png_with_text(chunks, kind, after_pixels)
    assert len(bomb) < 20_000
    with pytest.raises(ImageError) as refused:
        predict_bytes(bomb, "text.png", Settings())
    assert (refused.value.code, refused.value.status) == ("undecodable_image", 415)


# ------------------------------------------------------------------ fixes in pipeline dependencies

LZW = 5
DEFLATE = 8


def tiff(width: int, height: int, data: bytes, compression: int, tile: int | None = None) -> bytes:
    """An 8-bit grey little-endian TIFF in one strip, or in `tile` x `tile` tiles of which only one is stored."""
    tags = [(256, width), (257, height), (258, 8), (259, compression), (262, 1), (277, 1)]
    tags += (
        [(322, tile), (323, tile), (324, 0), (325, len(data))] if tile else [(273, 0), (278, height), (279, len(data))]
    )
    offset = 8 + 2 + 12 * len(tags) + 4
    entries = b"".join(
        struct.pack("<HHII", tag, 4, 1, offset if tag in (273, 324) else value) for tag, value in sorted(tags)
    )
    return b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(tags)) + entries + struct.pack("<I", 0) + data


def test_libtiffs_strip_or_tile_buffer_counts_in_the_decode_estimate():
    """libtiff decodes a compressed TIFF into a buffer of one whole strip or tile, and a tile may be far
    larger than the picture: 164 bytes (a 64x64 picture in one 46336x46336 LZW tile) took 2 GiB and
    5.6 s of CPU. Only headers are read here: nothing is decoded until the estimate refuses the file."""
    bomb = tiff(64, 64, b"\x80\0\0" * 10, LZW, tile=46336)
    with pytest.raises(ImageError) as caught:
        open_image(bomb, SIZE).close()
    assert (caught.value.status, caught.value.code) == (413, "decode_too_large")
    # A single strip is a second copy of the picture's raw rows: 1000x1000 grey is 1 MB of pixels plus 1 MB.
    strip = tiff(1000, 1000, zlib.compress(bytes(1000 * 1000)), DEFLATE)
    with pytest.raises(ImageError) as caught:
        open_image(strip, SIZE, max_decode_bytes=int(1.5 * MEBIBYTE)).close()
    assert caught.value.code == "decode_too_large"
    # Ordinary tiles, ordinary strips: still pictures.
    assert load_image(tiff(64, 64, zlib.compress(b"\x09" * 256 * 256), DEFLATE, tile=256), SIZE).width == 64
    assert load_image(tiff(1000, 1000, zlib.compress(bytes(1000 * 1000)), DEFLATE), SIZE).width == 1000


@pytest.mark.parametrize(
    ("mode", "key", "big"),
    [("RGB", (0, 0, 0), False), ("RGB", (0, 0, 0), True), ("L", 0, False), ("I;16", 0, False), ("1", 0, False)],
)
def test_a_colour_key_is_transparency_composited_on_white(mode, key, big):
    """A PNG tRNS chunk in a grey or RGB image (optipng writes one for binary alpha) makes one colour
    transparent; it was ignored, so a transparent black background reached the model black."""
    side = 2000 if big else 64  # 2000: the box-reduced path for RGB, which skipped colour conversion
    image = Image.new(mode, (side, side), 0)
    data = encode(image, "PNG", transparency=key)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    pixels = load_image(data, SIZE).pixels
    assert pixels.min() == 255, np.unique(pixels)
