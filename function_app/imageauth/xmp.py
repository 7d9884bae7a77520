"""Reading an XMP packet: its encoding and the RDF/XML forms of a property; what values mean is the callers'.

XMP (ISO 16684-1; Adobe's XMP Specification Part 1) may be UTF-8, UTF-16 or
UTF-32, and RDF/XML lets a writer put a property's value in an attribute, in
element text, or, for a URI, in an `rdf:resource` attribute ("Serializing
XMP"). Packets are untrusted and can be megabytes (Photoshop's document
history), so only their start is read and every match is bounded: a regular
expression per property, not an XML parser, which would need the whole packet
and bring entity expansion with it.
"""

from __future__ import annotations

import re
from functools import lru_cache

# XMP packets are read this far, in bytes.
XMP_SCAN_BYTES = 256 * 1024


@lru_cache(maxsize=8)
def xmp_property(name: str) -> re.Pattern[str]:
    """A property of an XMP packet in any of its RDF/XML forms (any namespace prefix), value in a group.

    `prefix:Name="v"` (an attribute of rdf:Description), `<prefix:Name>v</prefix:Name>` (element text,
    whitespace around the value allowed), and `<prefix:Name rdf:resource="v"/>` (a URI value).
    Matched at each occurrence of ":Name" (see `xmp_values`), with every repetition bounded, and
    those around the value possessive: they give nothing back, so a failed match costs one pass
    over a few kilobytes, not one per way of splitting a run of spaces between them (a quote and a
    long run of spaces once cost 256 x 1024 x 256 steps). The value's group takes the whitespace
    after the value too (1024 characters and 256 of whitespace): `xmp_values` strips it.
    """
    space, value = r"\s{0,256}+", r"{0,1280}+"
    quoted = rf"\"{space}([^\"<]{value})\"|'{space}([^'<]{value})'"
    return re.compile(
        rf":{name}(?:{space}={space}(?:{quoted})"  # attribute
        rf"|\s[^<>]{{0,512}}?\b(?:\w{{1,64}}+:)?resource{space}={space}(?:{quoted})"  # rdf:resource
        rf"|{space}>{space}([^<]{value})<)"  # element text
    )


def xmp_text(raw: object) -> str | None:
    """An XMP packet (Pillow's `info["xmp"]`: JPEG APP1, PNG iTXt, WebP XMP chunk, TIFF tag 700), decoded.

    At most `XMP_SCAN_BYTES` of it. XMP may be UTF-8, UTF-16 or UTF-32 (XMP Specification Part 1,
    "Character encodings"); the encoding is told by a byte-order mark or by the zero bytes around
    the packet's first "<".
    """
    if isinstance(raw, str):
        return raw[:XMP_SCAN_BYTES]
    if not isinstance(raw, bytes) or not raw:
        return None
    raw = raw[:XMP_SCAN_BYTES]
    for prefix, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\x00<", "utf-32-be"),
        (b"<\x00\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\x00<", "utf-16-be"),
        (b"<\x00", "utf-16-le"),
    ):
        if raw.startswith(prefix):
            return raw.decode(codec, "replace").lstrip("\ufeff")
    return raw.decode("utf-8", "replace").lstrip("\ufeff")


def xmp_values(xmp: str, name: str, limit: int = 20) -> list[str]:
    """The values of the XMP property `name` (without prefix), entities decoded, in packet order.

    Only the first `limit` occurrences of the property's name are looked at, so that a packet
    stuffed with the name costs a few bounded matches, not one per occurrence.
    """
    import html  # only for files with XMP: kept out of cold start

    pattern, name = xmp_property(name), f":{name}"
    values, position = [], xmp.find(name)
    while position >= 0 and limit > 0:
        match = pattern.match(xmp, position)
        if match:
            values.append(html.unescape(next(g for g in match.groups() if g is not None)).strip())
        position, limit = xmp.find(name, position + len(name)), limit - 1
    return values
