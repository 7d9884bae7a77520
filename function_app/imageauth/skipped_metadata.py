"""Metadata that Pillow does not read when it opens a file without decoding its pixels.

Evidence is read from an opened, not decoded, image (a second decode would
double every upload's CPU), so three places where writers put metadata are read
here from the bytes, each walk bounded:

- a simple (not VP8X) WebP's "XMP " chunk, where c2pa-rs puts the XMP that
  points to a remote manifest: libwebp, so Pillow, skips it;
- a GIF's XMP application extension ("XMP DataXMP", XMP Specification Part 3,
  "GIF"), which Pillow's GIF plugin does not read at all;
- PNG text chunks (tEXt, zTXt, iTXt) and an eXIf chunk after the image data:
  the PNG specification allows text anywhere between IHDR and IEND, libpng
  writes an eXIf set after the pixels there, and Pillow reads those only once
  it has decoded the pixels; and ComfyUI's private `comf` chunks there
  (`comfy_extras/nodes_images.py` `SaveAnimatedPNG`: "prompt\0{...}",
  "workflow\0{...}", each `PngInfo.add(b"comf", ..., after_idat=True)`),
  which Pillow does not read at all.

It also decodes ImageMagick's "Raw profile type xmp" / "Raw profile type exif"
PNG text (its `png.c`: a profile Pillow has no chunk for, written as
"\n<name>\n<length>\n" and the bytes in hex, 72 digits a line, usually in a
zTXt), which is how ImageMagick 6 carries a JPEG's XMP into a PNG.
"""

from __future__ import annotations

import zlib

from imageauth.container_chunks import GIF_SIGNATURES, png_chunks, riff_chunks

GIF_XMP_EXTENSION = b"\x21\xff\x0bXMP DataXMP"  # extension introducer, application label, block size 11
# The XMP packet sits raw in the extension; the "magic trailer" after it (0x01, 0xFF down to 0x00,
# then the block terminator) makes its bytes read as sub-blocks to a GIF decoder.
GIF_XMP_TRAILER = b"\x01\xff\xfe\xfd\xfc"
PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# Text chunks after the pixels read at most: writers put a handful there, and every value costs a
# decompression. `preprocess.load_image` has already refused a file with more than 8 MiB of text.
MAX_LATE_TEXT_CHUNKS = 64
HEADER_SLACK = 4096
EXIF_HEADER = b"Exif\x00\x00"
COMFYUI_CHUNK = b"comf"
RAW_PROFILE_XMP = "Raw profile type xmp"
RAW_PROFILE_EXIF = "Raw profile type exif"


def webp_chunk(data: bytes, kind: bytes, limit: int) -> bytes | None:
    """The first `limit` bytes of the first top-level RIFF chunk `kind` of a WebP file, or None."""
    for chunk, offset, length in riff_chunks(data):
        if chunk == kind:
            return data[offset : offset + min(length, limit)]
    return None


def gif_xmp(data: bytes, limit: int) -> bytes | None:
    """The first `limit` bytes of a GIF's XMP packet, or None when it has no XMP extension.

    A search, not a block walk (like the C2PA store search in `manifest_markers`): the extension's
    14-byte signature cannot turn up in LZW data by chance, and a file that forged one could as
    well carry a real extension.
    """
    if not data.startswith(GIF_SIGNATURES):
        return None
    position = data.find(GIF_XMP_EXTENSION)
    if position < 0:
        return None
    start = position + len(GIF_XMP_EXTENSION)
    end = data.find(GIF_XMP_TRAILER, start, start + limit + len(GIF_XMP_TRAILER))
    return data[start : end if end >= 0 else start + limit]


def png_info_after_pixels(data: bytes, limit: int) -> dict[str, str | bytes]:
    """Text and eXIf chunks between a PNG's first IDAT and IEND, keyed as Pillow keys `info`.

    So one reader serves metadata from either side of the pixels: a keyword maps to its first
    value (`limit` bytes of it), an iTXt `XML:com.adobe.xmp` is returned under "xmp", and the
    first eXIf chunk's first `limit` bytes under "exif" (with the "Exif\\0\\0" header Pillow puts
    before it). A `comf` chunk's keyword is returned as "comf:<keyword>", its text counted and
    cut like a tEXt's. A chunk that does not parse or decompress is skipped: this is evidence, not
    validation.
    """
    found: dict[str, str | bytes] = {}
    after_pixels, texts = False, 0
    for chunk, offset, length in png_chunks(data):
        after_pixels = after_pixels or chunk == b"IDAT"
        if not after_pixels:
            continue
        if chunk == b"eXIf":
            found.setdefault("exif", EXIF_HEADER + data[offset : offset + min(length, limit)])
        elif chunk in PNG_TEXT_CHUNKS or chunk == COMFYUI_CHUNK:
            texts += 1
            # Keyword, flags and tags take at most a few hundred bytes; `limit` of text needs about
            # `limit` bytes of zlib input at worst (stored blocks), so no more is copied.
            body = data[offset : offset + min(length, limit + HEADER_SLACK)]
            parsed = _text_chunk(b"tEXt" if chunk == COMFYUI_CHUNK else chunk, body, limit)
            if parsed is not None:
                keyword, value = parsed
                if chunk == COMFYUI_CHUNK:
                    keyword = f"comf:{keyword}"
                found.setdefault("xmp" if keyword == "XML:com.adobe.xmp" else keyword, value)
            if texts >= MAX_LATE_TEXT_CHUNKS:
                break
    return found


def _text_chunk(chunk: bytes, body: bytes, limit: int) -> tuple[str, str] | None:
    # PNG specification, 11.3.4: keyword (Latin-1), a zero byte, then per chunk type:
    # tEXt: Latin-1 text; zTXt: method byte, zlib text; iTXt: compression flag, method,
    # language tag, zero, translated keyword, zero, UTF-8 text (zlib when flagged).
    keyword, separator, rest = body.partition(b"\x00")
    if not separator or not keyword:
        return None
    try:
        if chunk == b"tEXt":
            return keyword.decode("latin-1"), rest[:limit].decode("latin-1")
        if chunk == b"zTXt":
            return keyword.decode("latin-1"), _inflate(rest[1:], limit).decode("latin-1")
        fields = rest[2:].split(b"\x00", 2)  # language tag, translated keyword, text
        if len(fields) < 3:
            return None
        text = _inflate(fields[2], limit) if rest[:1] == b"\x01" else fields[2][:limit]
        return keyword.decode("latin-1"), text.decode("utf-8", "replace")
    except zlib.error:
        return None


def _inflate(compressed: bytes, limit: int) -> bytes:
    """At most `limit` bytes of a zlib stream: `max_length` stops a bomb after that much output."""
    return zlib.decompressobj().decompress(compressed, limit)


def raw_profile(text: object, limit: int) -> bytes | None:
    """The first `limit` bytes of an ImageMagick "Raw profile type ..." text, or None if it is not one.

    "\\n<name>\\n<length>\\n" then hex digits, line-broken; at most `limit` bytes are decoded, from
    at most 3 x `limit` characters of text (two digits a byte, and the line breaks).
    """
    if not isinstance(text, str):
        return None
    name, length, digits = [*text[: 3 * limit].lstrip("\n").split("\n", 2), "", ""][:3]
    length = length.strip()
    if not name.strip() or not (length.isascii() and length.isdigit() and len(length) <= 12):
        return None
    digits = "".join(digits.split())[: 2 * min(limit, int(length))]
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2]) or None
    except ValueError:  # not hex
        return None
