"""Evidence in the shapes real files take, beyond the ones the generators' own save paths make by default.

Every file is built here, at test time: XMP packets in each RDF/XML form and
encoding and in each container Pillow reads them from, what each generator
writes where (sources cited in imageauth/generators.py), photographs from
editors (which are not generators), and C2PA manifests signed by c2pa-python's
Builder with the session's test chain (tests/credentials.py): in every
container the API accepts, with ingredients, with Adobe's extensions, and as a
reference to a remote manifest that must not be fetched.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zlib

import pytest
from cpu_clock import cpu_clock
from credentials import (
    A1111_PARAMETERS,
    IPTC,
    encode,
    gif_header_end,
    photo,
    png_chunks,
    png_from_chunks,
    png_with_text,
    sign,
    sign_manifest,
    with_pixels_changed,
)
from PIL import Image, TiffImagePlugin
from serving_helpers import model_only_verdict

from imageauth import manifest_markers, provenance, skipped_metadata
from imageauth.cli_output import evidence_summary
from imageauth.predict import predict_bytes
from imageauth.settings import Settings
from imageauth.xmp import XMP_SCAN_BYTES

SETTINGS = Settings()
AI = IPTC + "trainedAlgorithmicMedia"
RDF = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dcterms="http://purl.org/dc/terms/"{attributes}>{elements}'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)
PACKET = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{}<?xpacket end="w"?>'


def xmp(attributes: str = "", elements: str = "") -> str:
    return PACKET.format(RDF.format(attributes=attributes, elements=elements))


# The same property in each of the RDF/XML forms XMP writers use (XMP Specification Part 1).
SOURCE_TYPE_FORMS = {
    "attribute": xmp(attributes=f' Iptc4xmpExt:DigitalSourceType="{AI}"'),
    "attribute-single-quotes": xmp(attributes=f" Iptc4xmpExt:DigitalSourceType='{AI}'"),
    "element": xmp(elements=f"<Iptc4xmpExt:DigitalSourceType>{AI}</Iptc4xmpExt:DigitalSourceType>"),
    "element-pretty-printed": xmp(
        elements=f"\n   <Iptc4xmpExt:DigitalSourceType>\n      {AI}\n   </Iptc4xmpExt:DigitalSourceType>\n"
    ),
    "rdf-resource": xmp(elements=f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{AI}"/>'),
    "rdf-resource-pretty-printed": xmp(elements=f'\n <Iptc4xmpExt:DigitalSourceType\n    rdf:resource="{AI}" />\n'),
    "midjourney-prefix": xmp(
        attributes=f' xmlns:iptcExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" iptcExt:DigitalSourceType="{AI}"'
    ),
    "entity-escaped": xmp(
        elements="<Iptc4xmpExt:DigitalSourceType>http&#x3A;//cv.iptc.org/newscodes/digitalsourcetype/"
        "trainedAlgorithmicMedia</Iptc4xmpExt:DigitalSourceType>"
    ),
}


def sources(data: bytes, name: str = "file") -> list[tuple]:
    """(source, generator, ai_generated) of each metadata entry `predict_bytes` reports."""
    item = predict_bytes(data, name, SETTINGS)
    return [(e["source"], e["generator"], e["ai_generated"]) for e in item["evidence"] if e["kind"] == "metadata"]


def png_with_itxt(image: Image.Image, keyword: str, text: str, compressed: bool = False, after_idat: bool = False):
    """A PNG with one iTXt chunk, written the way Photoshop and exiftool write XMP (or after the pixels)."""
    import zlib

    body = zlib.compress(text.encode("utf-8")) if compressed else text.encode("utf-8")
    payload = keyword.encode("latin-1") + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00" + body
    if after_idat:
        return png_with_late_chunks(image, [(b"iTXt", payload)])
    chunks = png_chunks(encode(image, "PNG"))
    return png_from_chunks([chunks[0], (b"iTXt", payload), *chunks[1:]])


def png_with_late_chunks(image: Image.Image, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG with `chunks` between its pixel data and IEND."""
    own = png_chunks(encode(image, "PNG"))
    return png_from_chunks([*own[:-1], *chunks, own[-1]])


def gif_with_xmp(image: Image.Image, packet: bytes) -> bytes:
    """A GIF with an XMP application extension before its first image, as XMP Specification Part 3 lays it out."""
    gif = encode(image.convert("P"), "GIF")
    start = gif_header_end(gif)
    magic_trailer = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return gif[:start] + b"\x21\xff\x0bXMP DataXMP" + packet + magic_trailer + gif[start:]


def tiff_with(tags: dict) -> bytes:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[tag] = value
        if tag == 700:  # XMLPacket: bytes
            ifd.tagtype[tag] = 1
    return encode(photo(), "TIFF", tiffinfo=ifd)


# ---------------------------------------------------------------------------- XMP forms and containers


@pytest.mark.parametrize("form", sorted(SOURCE_TYPE_FORMS))
def test_xmp_digital_source_type_in_each_rdf_form(form):
    data = encode(photo(), "JPEG", xmp=SOURCE_TYPE_FORMS[form].encode("utf-8"))
    item = predict_bytes(data, "xmp.jpg", SETTINGS)
    assert [(e["source"], e["ai_generated"]) for e in item["evidence"]] == [("xmp:DigitalSourceType", True)]
    assert item["verdict"] == "likely_ai"


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le", "utf-32-be", "utf-16"])
def test_xmp_in_utf16_and_utf32(codec):
    # XMP Specification Part 1 allows UTF-16 and UTF-32 packets; "utf-16" adds a byte-order mark.
    data = encode(photo(), "JPEG", xmp=SOURCE_TYPE_FORMS["rdf-resource"].encode(codec))
    assert sources(data) == [("xmp:DigitalSourceType", None, True)]


@pytest.mark.parametrize(
    "make",
    [
        lambda text: encode(photo(), "JPEG", xmp=text.encode()),
        lambda text: png_with_itxt(photo(), "XML:com.adobe.xmp", text),
        lambda text: png_with_itxt(photo(), "XML:com.adobe.xmp", text, compressed=True),
        lambda text: encode(photo(), "WEBP", xmp=text.encode()),
        lambda text: tiff_with({700: text.encode()}),
        lambda text: png_with_itxt(photo(), "XML:com.adobe.xmp", text, after_idat=True),
        lambda text: png_with_itxt(photo(), "XML:com.adobe.xmp", text, compressed=True, after_idat=True),
        lambda text: gif_with_xmp(photo(), text.encode()),
    ],
    ids=[
        "jpeg-app1",
        "png-itxt",
        "png-itxt-compressed",
        "webp",
        "tiff-tag-700",
        "png-itxt-after-pixels",
        "png-itxt-compressed-after-pixels",
        "gif-application-extension",
    ],
)
@pytest.mark.parametrize("form", ["attribute", "element-pretty-printed", "rdf-resource"])
def test_xmp_in_each_container(make, form):
    assert sources(make(SOURCE_TYPE_FORMS[form])) == [("xmp:DigitalSourceType", None, True)]


def test_a_gif_with_xmp_is_still_a_gif_and_its_pixels_are_the_same():
    # The magic trailer makes the packet read as sub-blocks: a decoder skips the extension.
    plain, tagged = encode(photo().convert("P"), "GIF"), gif_with_xmp(photo(), SOURCE_TYPE_FORMS["attribute"].encode())
    with Image.open(io.BytesIO(plain)) as one, Image.open(io.BytesIO(tagged)) as other:
        assert one.tobytes() == other.tobytes()
    assert (
        predict_bytes(tagged, "x.gif", SETTINGS)["probability_fake"]
        == predict_bytes(plain, "x.gif", SETTINGS)["probability_fake"]
    )


@pytest.mark.parametrize(
    "chunk",
    [
        (b"tEXt", b"parameters\x00" + A1111_PARAMETERS.encode("latin-1")),
        (b"zTXt", b"parameters\x00\x00" + zlib.compress(A1111_PARAMETERS.encode("latin-1"))),
        (b"iTXt", b"parameters\x00\x01\x00\x00\x00" + zlib.compress(A1111_PARAMETERS.encode())),
    ],
    ids=["tEXt", "zTXt", "iTXt-compressed"],
)
def test_generator_text_after_the_pixels_of_a_png_is_read(chunk):
    # The PNG specification allows text chunks anywhere between IHDR and IEND; Pillow reads the
    # ones after the pixel data only once it decodes them, so evidence reads them from the bytes.
    data = png_with_late_chunks(photo(), [chunk])
    assert sources(data) == [("png:parameters", "AUTOMATIC1111", True)]


def test_text_before_the_pixels_wins_over_the_same_keyword_after():
    late = (b"tEXt", b"parameters\x00" + A1111_PARAMETERS.encode("latin-1"))
    early = [(b"tEXt", b"parameters\x00a photo of my cat")]
    own = png_chunks(encode(photo(), "PNG"))
    data = png_from_chunks([own[0], *early, *own[1:-1], late, own[-1]])
    assert sources(data) == []  # the first occurrence counts: what Pillow shows of the opened file


@pytest.mark.parametrize(
    "chunk",
    [
        (b"zTXt", b"parameters\x00\x00not zlib at all"),
        (b"iTXt", b"parameters\x00\x01\x00\x00\x00not zlib"),
        (b"iTXt", b"parameters\x00\x00\x00no separators"),
        (b"tEXt", b"\x00no keyword"),
        (b"tEXt", b"no separator"),
    ],
    ids=["zTXt-garbage", "iTXt-garbage", "iTXt-truncated", "tEXt-empty-keyword", "tEXt-no-separator"],
)
def test_broken_text_after_the_pixels_is_skipped_and_the_next_chunk_read(chunk):
    good = (b"tEXt", b"parameters\x00" + A1111_PARAMETERS.encode("latin-1"))
    item = predict_bytes(png_with_late_chunks(photo(), [chunk, good]), "x.png", SETTINGS)
    assert "label" in item
    assert [e["source"] for e in item["evidence"]] == ["png:parameters"]


def test_late_text_is_inflated_only_as_far_as_it_is_read():
    # 100 MB of zeros after the A1111 settings, in 100 kB of zTXt: inflated to the 256 KiB read.
    text = A1111_PARAMETERS.encode("latin-1") + bytes(100_000_000)
    bomb = (b"zTXt", b"parameters\x00\x00" + zlib.compress(text, 9))
    data = png_with_late_chunks(photo(), [bomb])
    found = skipped_metadata.png_info_after_pixels(data, XMP_SCAN_BYTES)
    assert len(found["parameters"]) == XMP_SCAN_BYTES
    assert found["parameters"].startswith(A1111_PARAMETERS)


def test_late_text_chunks_are_read_up_to_a_count():
    flood = [(b"tEXt", f"k{number}\x00v".encode()) for number in range(skipped_metadata.MAX_LATE_TEXT_CHUNKS + 10)]
    data = png_with_late_chunks(photo(), flood)
    found = skipped_metadata.png_info_after_pixels(data, 1024)
    assert len(found) == skipped_metadata.MAX_LATE_TEXT_CHUNKS
    assert skipped_metadata.png_info_after_pixels(encode(photo(), "PNG"), 1024) == {}  # text before: Pillow's


def exif_chunk(exif: Image.Exif) -> tuple[bytes, bytes]:
    """A PNG eXIf chunk: the TIFF-structured EXIF block, without the "Exif\\0\\0" of JPEG's APP1."""
    return b"eXIf", exif.tobytes()[len(b"Exif\x00\x00") :]


def a1111_exif(text: str = A1111_PARAMETERS) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    return exif


def test_generator_exif_after_the_pixels_of_a_png_is_read():
    # libpng writes an eXIf chunk that was set after the image data there; Pillow reads it only
    # when it decodes the pixels (its getexif() decodes them to look).
    data = png_with_late_chunks(photo(), [exif_chunk(a1111_exif())])
    assert Image.open(io.BytesIO(data)).info.get("exif") is None  # not what Pillow shows of the opened file
    assert sources(data) == [("exif:UserComment", "AUTOMATIC1111", True)]


def test_exif_before_the_pixels_wins_over_exif_after():
    plain = a1111_exif("a photo of my cat")
    own = png_chunks(encode(photo(), "PNG"))
    data = png_from_chunks([own[0], exif_chunk(plain), *own[1:-1], exif_chunk(a1111_exif()), own[-1]])
    assert sources(data) == []
    assert sources(png_with_late_chunks(photo(), [exif_chunk(plain), exif_chunk(a1111_exif())])) == []


def test_broken_exif_after_the_pixels_leaves_the_text_evidence():
    text = (b"tEXt", b"parameters\x00" + A1111_PARAMETERS.encode("latin-1"))
    for broken in [(b"eXIf", b"not a TIFF header"), (b"eXIf", b"MM\x00*\x00\x00\xff\xff"), (b"eXIf", b"")]:
        item = predict_bytes(png_with_late_chunks(photo(), [broken, text]), "x.png", SETTINGS)
        assert "label" in item
        assert [e["source"] for e in item["evidence"]] == ["png:parameters"]


def test_late_exif_is_copied_only_as_far_as_it_is_read():
    data = png_with_late_chunks(photo(), [(b"eXIf", b"II*\x00" + bytes(3_000_000))])
    found = skipped_metadata.png_info_after_pixels(data, 1024)
    assert found["exif"] == b"Exif\x00\x00II*\x00" + bytes(1020)


def test_gif_xmp_ends_at_the_magic_trailer_and_at_the_limit():
    packet = SOURCE_TYPE_FORMS["attribute"].encode()
    gif = gif_with_xmp(photo(), packet)
    assert skipped_metadata.gif_xmp(gif, 1 << 20) == packet
    assert skipped_metadata.gif_xmp(gif, 100) == packet[:100]
    assert skipped_metadata.gif_xmp(encode(photo().convert("P"), "GIF"), 1 << 20) is None
    assert skipped_metadata.gif_xmp(b"\x89PNG" + gif, 1 << 20) is None  # only in a GIF


def test_the_first_recognised_source_type_counts():
    # Another property ending in "DigitalSourceType" first, then IPTC's.
    packet = xmp(
        attributes=f' xmlns:other="urn:x" other:DigitalSourceType="unknownKind" Iptc4xmpExt:DigitalSourceType="{AI}"'
    )
    assert sources(encode(photo(), "JPEG", xmp=packet.encode())) == [("xmp:DigitalSourceType", None, True)]


def test_composite_source_type_is_reported_as_a_composite():
    packet = xmp(attributes=f' Iptc4xmpExt:DigitalSourceType="{IPTC}compositeWithTrainedAlgorithmicMedia"')
    item = predict_bytes(encode(photo(), "JPEG", xmp=packet.encode()), "fill.jpg", SETTINGS)
    [entry] = item["evidence"]
    assert entry["ai_generated"] is True and "composite" in entry["detail"]
    assert "AI generator" not in entry["detail"]
    assert item["verdict"] == "likely_ai"


def test_a_jpeg_with_extended_xmp_reads_its_standard_packet():
    # XMP Specification Part 3: a packet over 64 KB is split into the standard packet (with
    # xmpNote:HasExtendedXMP) and APP1 extension segments, the large properties moved out first;
    # a digital source type is tiny and stays in the standard packet, which is what is read.
    extension_packet = xmp(elements="<xmp:Label>" + "history " * 12000 + "</xmp:Label>").encode()[:60000]
    guid = hashlib.md5(extension_packet, usedforsecurity=False).hexdigest().upper()  # as the spec defines it
    standard = xmp(
        attributes=' xmlns:xmpNote="http://ns.adobe.com/xmp/note/"'
        f' xmpNote:HasExtendedXMP="{guid}"'
        f' Iptc4xmpExt:DigitalSourceType="{AI}"'
    ).encode()
    extension = b"http://ns.adobe.com/xmp/extension/\x00" + guid.encode()
    extension += len(extension_packet).to_bytes(4, "big") + bytes(4) + extension_packet
    plain = encode(photo(), "JPEG", xmp=standard)
    data = plain[:2] + b"\xff\xe1" + (len(extension) + 2).to_bytes(2, "big") + extension + plain[2:]
    assert sources(data) == [("xmp:DigitalSourceType", None, True)]


def test_algorithmic_media_is_not_called_an_ai_generator():
    # IPTC algorithmicMedia: made by an algorithm without training data. It counts with the AI family
    # (issue 13), but the words say what it is.
    item = predict_bytes(sign(encode(photo(), "JPEG"), "image/jpeg", "algorithmicMedia"), "fractal.jpg", SETTINGS)
    [entry] = item["evidence"]
    assert entry["ai_generated"] is True and "generated by an algorithm" in entry["detail"]
    assert "AI generator" not in entry["detail"]
    assert item["verdict"] == "ai_generated_by_credentials"
    packet = xmp(attributes=f' Iptc4xmpExt:DigitalSourceType="{IPTC}algorithmicMedia"').encode()
    [entry] = predict_bytes(encode(photo(), "JPEG", xmp=packet), "fractal.jpg", SETTINGS)["evidence"]
    assert entry["ai_generated"] is True and "generated by an algorithm" in entry["detail"]


@pytest.mark.parametrize(
    "packet",
    [
        ":DigitalSourceType " * 30000,
        ":DigitalSourceType>" * 30000,
        ':DigitalSourceType="' * 30000,
        ":CreatorTool " + "x" * 400000,
        ":provenance " * 30000,
    ],
    ids=["names", "open-elements", "open-attributes", "long-run", "provenance"],
)
def test_hostile_xmp_costs_a_bounded_scan(packet):
    data = encode(photo(), "JPEG", xmp=packet.encode()[:65000])
    png = png_with_itxt(photo(), "XML:com.adobe.xmp", packet[: 1024 * 1024])
    for file in (data, png):
        with cpu_clock() as cpu_seconds:
            facts = provenance.examine(file)
            assert cpu_seconds() < 0.05
        assert facts.evidence == []


@pytest.mark.parametrize(
    "unit",
    [':{}="' + " " * 1500, ":{}>" + " " * 2000, ":{} =\t'" + "\t" * 1500, ':{} rdf:resource = "' + "\n" * 1500],
    ids=["attribute", "element", "attribute-tabs", "rdf-resource"],
)
def test_xmp_whitespace_runs_cost_a_bounded_scan(unit):
    # A quote (or ">") then a long run of whitespace that never closes, 20 times per property read:
    # when the quantifiers around the value could share the whitespace, each failed match took
    # ~256 x 1024 x 256 backtracking steps, seconds of CPU per file with the GIL held.
    packet = "".join((unit.format(name) + "x") * 20 for name in ("DigitalSourceType", "CreatorTool", "provenance"))
    jpeg = encode(photo(), "JPEG", xmp=packet.encode()[:65000])
    png = png_with_itxt(photo(), "XML:com.adobe.xmp", packet)
    for file in (jpeg, png):
        with cpu_clock() as cpu_seconds:
            facts = provenance.examine(file)
            # Milliseconds now, 10-20 s before: 1 s of CPU is far from both, even on a slow shared machine.
            assert cpu_seconds() < 1.0
        assert facts.evidence == []


# ---------------------------------------------------------------------------- what generators write


def comfyui_animated_webp() -> bytes:
    """As comfy_extras/nodes_images.py SaveAnimatedWEBP saves: the graphs in EXIF Model and Make."""
    frames = [photo(seed=seed) for seed in range(2)]
    exif = frames[0].getexif()
    exif[0x0110] = "prompt:" + json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}})
    exif[0x010F] = "workflow:" + json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []})
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, exif=exif)


def fooocus_jpeg() -> bytes:
    """As Fooocus modules/meta_parser.py get_exif: UserComment, Software and MakerNote on IFD0."""
    exif = Image.Exif()
    exif[0x9286] = json.dumps({"prompt": "a lighthouse", "version": "Fooocus v2.5.5", "steps": 30})
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = "fooocus"
    return encode(photo(), "JPEG", exif=exif)


def easy_diffusion_jpeg() -> bytes:
    """As sdkit save_dicts(..., "embed"): the settings as JSON in EXIF UserComment (piexif, UTF-16)."""
    settings = {
        "prompt": "a lighthouse",
        "seed": 42,
        "use_stable_diffusion_model": "sd-v1-5",
        "num_inference_steps": 25,
    }
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + json.dumps(settings).encode("utf-16-be")
    return encode(photo(), "JPEG", exif=exif)


def draw_things_png() -> bytes:
    """Draw Things' XMP, as its readers parse it: CreatorTool, description, settings JSON in exif:UserComment."""
    settings = json.dumps({"c": "a lighthouse", "uc": "blurry", "seed": 42, "steps": 20, "size": "120x90"})
    packet = xmp(
        elements='<dc:description xmlns:dc="http://purl.org/dc/elements/1.1/"><rdf:Alt><rdf:li xml:lang="x-default">'
        "a lighthouse&#xA;Steps: 20, Sampler: DPM++ 2M Karras, Guidance Scale: 4.5, Seed: 42</rdf:li></rdf:Alt>"
        "</dc:description><xmp:CreatorTool>Draw Things</xmp:CreatorTool>"
        '<exif:UserComment xmlns:exif="http://ns.adobe.com/exif/1.0/"><rdf:Alt><rdf:li xml:lang="x-default">'
        f"{settings.replace('&', '&amp;').replace('<', '&lt;')}</rdf:li></rdf:Alt></exif:UserComment>"
    )
    return png_with_itxt(photo(), "XML:com.adobe.xmp", packet)


def a1111_gif() -> bytes:
    """As AUTOMATIC1111 save_image_with_geninfo saves a GIF: the settings in the comment extension."""
    return encode(photo().convert("P"), "GIF", comment=A1111_PARAMETERS)


MIDJOURNEY_DESCRIPTION = "a lighthouse at dusk --ar 4:3 --v 6.1 Job ID: 0f6c3c53-6b6f-4e0b-9d1a-2f9a7f8c1e55"

GENERATOR_FILES = {
    "comfyui-animated-webp": (
        comfyui_animated_webp,
        [("exif:Model", "ComfyUI", True), ("exif:Make", "ComfyUI", True)],
    ),
    "fooocus-jpeg-ifd0": (fooocus_jpeg, [("exif:UserComment", "Fooocus", True), ("exif:Software", "Fooocus", True)]),
    "easy-diffusion-jpeg": (easy_diffusion_jpeg, [("exif:UserComment", "Easy Diffusion", True)]),
    "easy-diffusion-png": (
        lambda: png_with_text(
            photo(), {"prompt": "a lighthouse", "seed": "42", "use_stable_diffusion_model": "sd-v1-5"}
        ),
        [("png:use_stable_diffusion_model", "Easy Diffusion", True)],
    ),
    "easy-diffusion-png-display-names": (
        lambda: png_with_text(photo(), {"Prompt": "a lighthouse", "Stable Diffusion model": "sd-v1-5", "Seed": "42"}),
        [("png:Stable Diffusion model", "Easy Diffusion", True)],
    ),
    "draw-things-png": (draw_things_png, [("xmp:CreatorTool", "Draw Things", True)]),
    "fooocus-a1111-scheme-png": (
        lambda: png_with_text(
            photo(),
            {
                "parameters": A1111_PARAMETERS.replace("Version: v1.10.1", "Version: Fooocus v2.5.5"),
                "fooocus_scheme": "a1111",
            },
        ),
        [("png:parameters", "Fooocus", True)],
    ),
    "a1111-gif": (a1111_gif, [("gif:comment", "AUTOMATIC1111", True)]),
    "midjourney-png": (
        lambda: png_with_text(photo(), {"Description": MIDJOURNEY_DESCRIPTION, "Author": "someone"}),
        [("png:Description", "Midjourney", True)],
    ),
    "swarmui-jpeg": (
        lambda: jpeg_user_comment_le(json.dumps({"sui_image_params": {"prompt": "a lighthouse", "steps": 20}})),
        [("exif:UserComment", "SwarmUI", True)],
    ),
}


def jpeg_user_comment_le(text: str) -> bytes:
    """EXIF UserComment in UTF-16 little-endian, as .NET writers (SwarmUI's ImageSharp) may store it."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-le")
    return encode(photo(), "JPEG", exif=exif)


@pytest.mark.parametrize("name", sorted(GENERATOR_FILES))
def test_what_generators_write(name):
    make, expected = GENERATOR_FILES[name]
    item = predict_bytes(make(), name, SETTINGS)
    assert [(e["source"], e["generator"], e["ai_generated"]) for e in item["evidence"]] == expected
    assert all("unsigned" in e["detail"] for e in item["evidence"])
    assert item["verdict"] == "likely_ai"


EDITED_PHOTOS = {
    "photoshop-jpeg": lambda: encode(
        photo(),
        "JPEG",
        exif=exif_with({0x0131: "Adobe Photoshop 25.0 (Windows)", 0x010F: "Canon", 0x0110: "Canon EOS R5"}),
        xmp=xmp(attributes=' xmp:CreatorTool="Adobe Photoshop 25.0 (Windows)"').encode(),
    ),
    "lightroom-capture-xmp": lambda: encode(
        photo(),
        "JPEG",
        exif=exif_with({0x0131: "Adobe Lightroom 7.0 (Android)", 0x010F: "Google", 0x0110: "Pixel 8 Pro"}),
        xmp=xmp(
            attributes=' xmp:CreatorTool="Adobe Photoshop Lightroom Classic 13.0 (Windows)"'
            f' Iptc4xmpExt:DigitalSourceType="{IPTC}digitalCapture"'
        ).encode(),
    ),
    "gimp-png": lambda: png_with_text(photo(), {"Software": "GIMP 2.10.36", "Comment": "Created with GIMP"}),
    "gimp-webp-exif": lambda: encode(photo(), "WEBP", exif=exif_with({0x0131: "GIMP 2.10.36", 0x010E: "Harbour"})),
    "description-mentions-a-job": lambda: png_with_text(
        photo(), {"Description": "Job ID: 0f6c3c53-6b6f-4e0b-9d1a-2f9a7f8c1e55 (harbour survey)"}
    ),
    "comment-mentions-steps": lambda: encode(photo().convert("P"), "GIF", comment="Steps: 3 to the harbour"),
}


def exif_with(tags: dict) -> Image.Exif:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    return exif


@pytest.mark.parametrize("name", sorted(EDITED_PHOTOS))
def test_editors_and_cameras_are_not_generators(name):
    item = predict_bytes(EDITED_PHOTOS[name](), name, SETTINGS)
    assert all(entry["ai_generated"] is not True for entry in item["evidence"])
    assert item["verdict"] == model_only_verdict(item)


# ---------------------------------------------------------------------------- C2PA in every container


def mpo() -> bytes:
    """A JPEG with a second image (MPF), as Ultra HDR phone photos are; Pillow opens it as MPO."""
    buffer = io.BytesIO()
    photo().save(buffer, "MPO", save_all=True, append_images=[photo(seed=1)])
    return buffer.getvalue()


CONTAINERS = {
    "webp": (lambda: encode(photo(), "WEBP"), "image/webp"),
    "webp-lossless": (lambda: encode(photo(), "WEBP", lossless=True), "image/webp"),
    "webp-animated": (lambda: encode(photo(), "WEBP", save_all=True, append_images=[photo(seed=1)]), "image/webp"),
    "tiff": (lambda: encode(photo(), "TIFF"), "image/tiff"),
    "gif": (lambda: encode(photo().convert("P"), "GIF"), "image/gif"),
    "mpo": (mpo, "image/jpeg"),
    # Text before the manifest that contains "jumb" (and the manifest's own "c2pa" after it).
    "tiff-description-jumbo": (lambda: tiff_with({270: "A jumbo jet over the bay"}), "image/tiff"),
    "gif-comment-jumbo": (lambda: encode(photo().convert("P"), "GIF", comment="jumbo jet"), "image/gif"),
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
def test_signed_ai_image_in_each_container(container):
    make, mime = CONTAINERS[container]
    data = sign(make(), mime, "trainedAlgorithmicMedia")
    assert manifest_markers.manifest_size(data) is not None
    item = predict_bytes(data, container, SETTINGS)
    [entry] = [e for e in item["evidence"] if e["kind"] == "c2pa"]
    assert entry["status"] == "valid" and entry["ai_generated"] is True
    assert item["verdict"] == "ai_generated_by_credentials"


def test_a_stray_jumb_is_not_a_manifest_marker():
    # "jumb" in a TIFF description and "c2pa" further on, but no manifest store: no marker, so no
    # import of the native library and no entry.
    data = tiff_with({270: "A jumbo jet", 305: "c2pa-unaware scanner 1.0"})
    assert manifest_markers.manifest_size(data) is None
    assert provenance.examine(data).evidence == []


def test_a_jumbf_box_with_an_extended_length_is_a_marker():
    store = b"\x00\x00\x00\x01jumb" + (60).to_bytes(8, "big") + b"\x00\x00\x00\x24jumdc2pa" + bytes(28)
    assert manifest_markers.manifest_size(b"II*\x00" + bytes(8) + store) == 60


def test_cabx_after_the_image_data_is_found_and_read():
    # c2pa-rs writes caBX before IDAT (and moves a placeholder there); a file whose caBX comes after
    # the pixels is still found and read: moved after signing, its hash no longer matches.
    moved = png_chunks(sign(encode(photo(), "PNG"), "image/png", "trainedAlgorithmicMedia"))
    cabx = [chunk for chunk in moved if chunk[0] == b"caBX"]
    rest = [chunk for chunk in moved if chunk[0] != b"caBX"]
    data = png_from_chunks([*rest[:-1], *cabx, rest[-1]])
    assert [kind for kind, _ in png_chunks(data)] == [b"IHDR", b"IDAT", b"caBX", b"IEND"]
    assert manifest_markers.manifest_size(data) == len(cabx[0][1])
    item = predict_bytes(data, "moved.png", SETTINGS)
    [entry] = item["evidence"]
    assert entry["status"] == "invalid" and "assertion.dataHash.mismatch" in entry["codes"]
    assert item["verdict"] == model_only_verdict(item)


# ---------------------------------------------------------------------------- C2PA manifests as real tools write them


def manifest_with(actions: list[dict], *assertions: dict, name: str = "Test Editor") -> dict:
    return {
        "claim_generator_info": [{"name": name, "version": "1.0"}],
        "title": "test image",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}, *assertions],
    }


def edited(parent: bytes, relationship: str, actions: list[dict]) -> bytes:
    """A JPEG whose manifest has `parent` (a signed PNG or JPEG) as its one ingredient."""
    mime = "image/png" if parent.startswith(b"\x89PNG") else "image/jpeg"
    ingredient = ({"title": "parent", "relationship": relationship, "label": "parent"}, mime, parent)
    return sign_manifest(encode(photo(seed=3), "JPEG"), "image/jpeg", manifest_with(actions), ingredient)


OPENED = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
PLACED = {"action": "c2pa.placed", "parameters": {"ingredientIds": ["parent"]}}


@pytest.fixture(scope="module")
def generated() -> bytes:
    return sign(encode(photo(), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia", software_agent="Firefly Image 3")


@pytest.fixture(scope="module")
def captured() -> bytes:
    return sign(encode(photo(), "JPEG"), "image/jpeg", "digitalCapture", software_agent="Test Camera")


def c2pa_entry(data: bytes) -> tuple[dict, str]:
    item = predict_bytes(data, "signed.jpg", SETTINGS)
    [entry] = [e for e in item["evidence"] if e["kind"] == "c2pa"]
    return entry, item["verdict"]


def test_an_ai_image_edited_in_another_tool_stays_ai(generated):
    # The editor's manifest opens the generated image and adjusts colours; it says nothing of AI itself.
    entry, verdict = c2pa_entry(edited(generated, "parentOf", [OPENED, {"action": "c2pa.color_adjustments"}]))
    assert entry["status"] == "valid" and entry["ai_generated"] is True
    assert entry["generator"] == "Firefly Image 3" and entry["claim_generator"] == "Test Editor 1.0"
    assert entry["actions"] == [
        {"action": "c2pa.opened", "digitalSourceType": None},
        {"action": "c2pa.color_adjustments", "digitalSourceType": None},
    ]
    assert entry["ingredient"] == "parentOf"
    assert "edited from an image made with an AI generator" in entry["detail"]
    assert verdict == "ai_generated_by_credentials"


def test_a_capture_with_an_ai_component_placed_in_it_is_a_composite(generated):
    capture = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}
    entry, verdict = c2pa_entry(edited(generated, "componentOf", [capture, PLACED]))
    assert entry["ai_generated"] is True and "includes AI-generated content" in entry["detail"]
    assert verdict == "ai_generated_by_credentials"


def test_an_active_capture_opened_from_an_ai_image_is_not_a_capture(generated):
    contradicting = {**OPENED, "digitalSourceType": IPTC + "digitalCapture"}
    entry, verdict = c2pa_entry(edited(generated, "parentOf", [contradicting]))
    assert entry["ai_generated"] is True and verdict == "ai_generated_by_credentials"


def test_an_ai_image_used_only_as_an_input_does_not_make_a_capture_ai(generated):
    capture = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}
    entry, _ = c2pa_entry(edited(generated, "inputTo", [capture]))
    assert entry["ai_generated"] is False and "captured" in entry["detail"]


def test_an_edited_capture_says_nothing_of_ai(captured):
    entry, verdict = c2pa_entry(edited(captured, "parentOf", [OPENED, {"action": "c2pa.color_adjustments"}]))
    assert entry["ai_generated"] is None
    item = predict_bytes(edited(captured, "parentOf", [OPENED]), "edited.jpg", SETTINGS)
    assert item["verdict"] == model_only_verdict(item)


def test_a_broken_ai_ingredient_proves_nothing():
    parent = with_pixels_changed(sign(encode(photo(48, 48), "PNG"), "image/png", "trainedAlgorithmicMedia"))
    entry, _ = c2pa_entry(edited(parent, "parentOf", [OPENED]))
    assert entry["status"] == "valid" and entry["ai_generated"] is None


def test_actions_v2_assertion():
    action = {"action": "c2pa.created", "digitalSourceType": AI, "softwareAgent": {"name": "Gen v2"}}
    manifest = {**manifest_with([]), "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [action]}}]}
    entry, verdict = c2pa_entry(sign_manifest(encode(photo(), "JPEG"), "image/jpeg", manifest))
    assert entry["ai_generated"] is True and entry["generator"] == "Gen v2"
    assert verdict == "ai_generated_by_credentials"


def test_generative_fill_with_a_third_party_model_in_adobe_parameters():
    # Photoshop records a partner model's edit in the action's parameters (c2pa-js selectGenerativeInfo).
    fill = {
        "action": "c2pa.edited",
        "parameters": {
            "com.adobe.type": "remoteProvider.3rdParty",
            "com.adobe.digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia",
            "com.adobe.details": "Partner Model 1",
        },
    }
    capture = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}
    manifest = manifest_with([capture, fill], name="Adobe Photoshop")
    entry, verdict = c2pa_entry(sign_manifest(encode(photo(), "JPEG"), "image/jpeg", manifest))
    assert entry["ai_generated"] is True and entry["generator"] == "Partner Model 1"
    assert {"action": "c2pa.edited", "digitalSourceType": "compositeWithTrainedAlgorithmicMedia"} in entry["actions"]
    assert "combines AI-generated content (Partner Model 1) with other material" in entry["detail"]
    assert verdict == "ai_generated_by_credentials"


def test_composite_credentials_are_described_as_a_composite():
    data = sign(encode(photo(), "JPEG"), "image/jpeg", "compositeWithTrainedAlgorithmicMedia", software_agent="Fill")
    entry, verdict = c2pa_entry(data)
    assert "combines AI-generated content (Fill) with other material" in entry["detail"]
    assert "made with an AI generator" not in entry["detail"]
    assert verdict == "ai_generated_by_credentials"
    assert (entry["source_type"], entry["ingredient"]) == ("compositeWithTrainedAlgorithmicMedia", None)
    assert evidence_summary([entry]).startswith("C2PA valid, says AI (a composite), signed by")


def test_adobe_legacy_generative_ai_assertion():
    # Early Firefly output: no AI digitalSourceType, Adobe's com.adobe.generative-ai assertion instead.
    created = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCreation"}
    legacy = {"label": "com.adobe.generative-ai", "data": {"description": "Adobe Firefly", "version": "1.0.0"}}
    manifest = manifest_with([created], legacy, name="Adobe Firefly")
    entry, verdict = c2pa_entry(sign_manifest(encode(photo(), "JPEG"), "image/jpeg", manifest))
    assert entry["ai_generated"] is True and entry["generator"] == "Adobe Firefly 1.0.0"
    assert verdict == "ai_generated_by_credentials"


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("TIFF", "image/tiff")]
)
def test_a_remote_manifest_is_reported_and_not_fetched(fmt, mime):
    url = "https://manifests.example.invalid/store/abc.c2pa"
    created = {"action": "c2pa.created", "digitalSourceType": AI}
    data = sign_manifest(encode(photo(), fmt), mime, manifest_with([created]), remote=url)
    assert manifest_markers.manifest_size(data) is None  # nothing embedded: the native library is not loaded
    item = predict_bytes(data, "remote", SETTINGS)
    [entry] = item["evidence"]
    assert entry["kind"] == "c2pa" and entry["status"] == "unreadable" and entry["ai_generated"] is None
    assert url in entry["detail"] and "does not fetch" in entry["detail"]
    assert item["verdict"] == model_only_verdict(item)


def test_a_remote_manifest_reference_never_loads_c2pa_or_the_network():
    # In a fresh interpreter with sockets refused: the reference is read from XMP, nothing else happens.
    created = {"action": "c2pa.created", "digitalSourceType": AI}
    data = sign_manifest(encode(photo(), "JPEG"), "image/jpeg", manifest_with([created]), remote="https://x.invalid/m")
    script = (
        "import socket, sys, json\n"
        "def refuse(*args, **kwargs): raise AssertionError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from imageauth.provenance import examine\n"
        "facts = examine(sys.stdin.buffer.read())\n"
        "print(json.dumps({'statuses': [e.get('status') for e in facts.evidence], 'c2pa': 'c2pa' in sys.modules}))\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, check=True)
    assert json.loads(finished.stdout.decode().strip().splitlines()[-1]) == {"statuses": ["unreadable"], "c2pa": False}


def test_an_embedded_manifest_with_a_remote_reference_is_read_once():
    # An XMP dcterms:provenance next to an embedded store: one entry, from the store.
    created = {"action": "c2pa.created", "digitalSourceType": AI}
    packet = xmp(attributes=' dcterms:provenance="https://x.invalid/m.c2pa"').encode()
    data = sign_manifest(encode(photo(), "JPEG", xmp=packet), "image/jpeg", manifest_with([created]))
    assert b"dcterms:provenance" in data
    item = predict_bytes(data, "both.jpg", SETTINGS)
    assert [(e["kind"], e.get("status")) for e in item["evidence"]] == [("c2pa", "valid")]
