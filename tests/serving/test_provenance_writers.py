"""Evidence from files as real tools write them, where the reader once went wrong.

ComfyUI graphs that generate nothing, text that only mentions steps and seeds,
EXIF UserComment in either UTF-16 byte order, a broken EXIF beside an XMP label,
ComfyUI's SaveAnimatedPNG chunks and ImageMagick's hex "raw profiles" in PNG
text. Writers are cited in imageauth/generators.py and skipped_metadata.py;
every file is built here, at test time.
"""

from __future__ import annotations

import json
import zlib

import pytest
from credentials import IPTC, encode, photo, png_chunks, png_from_chunks, png_with_text
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from serving_helpers import model_only_verdict

from imageauth import skipped_metadata
from imageauth.predict import predict_bytes
from imageauth.settings import Settings
from imageauth.xmp import XMP_SCAN_BYTES

SETTINGS = Settings()
A1111_LINE = "Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 3416870372, Size: 832x1216, Version: v1.10.1"
AI_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


def entries(data: bytes) -> tuple[list[tuple], dict]:
    """(source, generator, ai_generated) of each entry, and the item."""
    item = predict_bytes(data, "file", SETTINGS)
    return [(e.get("source") or e["kind"], e["generator"], e["ai_generated"]) for e in item["evidence"]], item


def comfyui_graphs(*classes: str) -> tuple[str, str]:
    """A ComfyUI API graph ("prompt") and editor workflow with nodes of `classes`, as SaveImage writes them."""
    prompt = {
        str(number): {"inputs": {"image": "IMG_2041.jpg"}, "class_type": name} for number, name in enumerate(classes)
    }
    nodes = [
        {"id": number, "type": name, "inputs": [{"name": "model", "type": "MODEL"}]}
        for number, name in enumerate(classes)
    ]
    return json.dumps(prompt), json.dumps({"last_node_id": len(classes), "nodes": nodes, "links": [], "version": 0.4})


def comfyui_apng(prompt: str, workflow: str) -> bytes:
    """As comfy_extras/nodes_images.py SaveAnimatedPNG saves: a `comf` chunk per graph, after the image data."""
    info = PngInfo()
    info.add(b"comf", b"prompt\x00" + prompt.encode("latin-1"), after_idat=True)
    info.add(b"comf", b"workflow\x00" + workflow.encode("latin-1"), after_idat=True)
    frames = [photo(seed=seed) for seed in range(3)]
    return encode(frames[0], "PNG", pnginfo=info, save_all=True, duration=166, append_images=frames[1:])


def comfyui_webp(prompt: str, workflow: str) -> bytes:
    """As SaveAnimatedWEBP saves: the graphs in EXIF Model and Make."""
    frames = [photo(seed=seed) for seed in range(2)]
    exif = Image.Exif()
    exif[0x0110], exif[0x010F] = "prompt:" + prompt, "workflow:" + workflow
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, exif=exif)


COMFYUI_SAVES = {
    "png-text": (lambda p, w: png_with_text(photo(), {"prompt": p, "workflow": w}), ["png:prompt", "png:workflow"]),
    "apng-comf-chunks": (comfyui_apng, ["png:comf:prompt", "png:comf:workflow"]),
    "animated-webp-exif": (comfyui_webp, ["exif:Model", "exif:Make"]),
}
PROCESSING_ONLY = {
    "resize": ("LoadImage", "ImageScale", "SaveImage"),
    "esrgan-upscale": ("LoadImage", "UpscaleModelLoader", "ImageUpscaleWithModel", "SaveImage"),
    "crop-and-colour": ("LoadImage", "ImageCrop", "ImageSharpen", "SaveImage"),
}
GENERATING = {
    "ksampler": ("CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler", "VAEDecode", "SaveImage"),
    "ksampler-advanced": ("CheckpointLoaderSimple", "KSamplerAdvanced", "VAEDecode", "SaveImage"),
    "sampler-custom": ("KSamplerSelect", "SamplerCustom", "VAEDecode", "SaveImage"),
    "sampler-custom-advanced-flux": ("UNETLoader", "RandomNoise", "SamplerCustomAdvanced", "VAEDecode", "SaveImage"),
    "img2img": ("LoadImage", "VAEEncode", "KSampler", "VAEDecode", "SaveImage"),
    "custom-node-sampler": ("TSC_EfficientLoader", "KSampler (Efficient)", "SaveImage"),
    "api-node": ("OpenAIGPTImage1", "SaveImage"),
}


@pytest.mark.parametrize("save", sorted(COMFYUI_SAVES))
@pytest.mark.parametrize("graph", sorted(PROCESSING_ONLY))
def test_a_photo_only_processed_in_comfyui_is_not_called_ai(save, graph):
    # ComfyUI's savers write the graph of every image, generative or not (nodes.py SaveImage).
    make, sources = COMFYUI_SAVES[save]
    found, item = entries(make(*comfyui_graphs(*PROCESSING_ONLY[graph])))
    assert found == [(source, None, None) for source in sources]
    assert all("processed with ComfyUI" in e["detail"] and "unsigned" in e["detail"] for e in item["evidence"])
    assert item["verdict"] == model_only_verdict(item)


@pytest.mark.parametrize("save", sorted(COMFYUI_SAVES))
@pytest.mark.parametrize("graph", sorted(GENERATING))
def test_comfyui_graphs_that_sample_or_generate_are_ai(save, graph):
    make, sources = COMFYUI_SAVES[save]
    found, item = entries(make(*comfyui_graphs(*GENERATING[graph])))
    assert found == [(source, "ComfyUI", True) for source in sources]
    details = [e["detail"] for e in item["evidence"]]
    assert details[0].startswith("A generation graph of ComfyUI in ") and "ComfyUI generation" not in details[0]
    assert details[1].startswith("A generation workflow of ComfyUI in ")
    assert item["verdict"] == "likely_ai"


def test_comf_chunks_are_read_like_late_text():
    prompt, workflow = comfyui_graphs("KSampler")
    found = skipped_metadata.png_info_after_pixels(comfyui_apng(prompt, workflow), 40)
    assert found == {"comf:prompt": prompt[:40], "comf:workflow": workflow[:40]}
    flood = PngInfo()
    for number in range(skipped_metadata.MAX_LATE_TEXT_CHUNKS):
        flood.add(b"comf", f"k{number}\x00v".encode(), after_idat=True)
    flood.add(b"comf", b"prompt\x00" + prompt.encode(), after_idat=True)
    found = skipped_metadata.png_info_after_pixels(encode(photo(), "PNG", pnginfo=flood), 1024)
    assert len(found) == skipped_metadata.MAX_LATE_TEXT_CHUNKS and "comf:prompt" not in found


def jpeg_user_comment(raw: bytes, fmt: str = "JPEG", endian: str = ">") -> bytes:
    exif = Image.Exif()
    exif.endian = endian  # ">": "MM", as piexif writes it (AUTOMATIC1111); "<": "II", as cameras do
    exif.get_ifd(0x8769)[0x9286] = raw
    return encode(photo(), fmt, exif=exif)


@pytest.mark.parametrize(
    "text",
    [
        "Stable Diffusion workshop. Steps: 1) install 2) run. Seed: funding by X",
        "Perlin terrain\nOctaves: 6, Steps: 200, Seed: 42, Sampler: bilinear",
        "Steps: 3 to the harbour, then left. Seed: the garden",
        "Hike log: Steps: 12000, Seed: none",
    ],
)
def test_text_that_only_mentions_steps_and_seeds_is_not_automatic1111(text):
    # AUTOMATIC1111's own parser wants its settings line: "Steps: <int>, " then key: value pairs.
    for data in (png_with_text(photo(), {"parameters": text}), jpeg_user_comment(b"ASCII\x00\x00\x00" + text.encode())):
        found, item = entries(data)
        assert found == [] and item["verdict"] == model_only_verdict(item)
    # What AUTOMATIC1111 and SD.Next (Seed before Sampler) write still counts.
    for line in (A1111_LINE, "Steps: 20, Seed: 1, Sampler: Default, CFG scale: 6, App: SD.Next"):
        found, _ = entries(png_with_text(photo(), {"parameters": f"a lighthouse\nNegative prompt: x\n{line}"}))
        assert [generator for _, generator, _ in found] in (["AUTOMATIC1111"], ["SD.Next"])


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize(("endian", "codec"), [(">", "utf-16-be"), ("<", "utf-16-le")], ids=["MM", "II"])
@pytest.mark.parametrize("prompt", ["一个女孩，站在海边", "最高品質, 傑作, 1girl"])
def test_unicode_user_comment_in_the_exif_byte_order(fmt, endian, codec, prompt):
    # AUTOMATIC1111 (piexif): UTF-16BE in a big-endian EXIF; ExifTool: the EXIF's own byte order.
    # 一 is U+4E00 and 最 U+6700: their big-endian bytes look like a little-endian Latin letter.
    text = f"{prompt}\nNegative prompt: lowres\n{A1111_LINE}"
    found, item = entries(jpeg_user_comment(b"UNICODE\x00" + text.encode(codec), fmt, endian))
    assert found == [("exif:UserComment", "AUTOMATIC1111", True)]
    assert item["verdict"] == "likely_ai"


def test_unicode_user_comment_with_a_byte_order_mark_or_against_the_exif_order():
    text = f"一只猫\nNegative prompt: x\n{A1111_LINE}"
    for raw, endian in [
        (b"UNICODE\x00\xff\xfe" + text.encode("utf-16-le"), ">"),  # a BOM decides
        (b"UNICODE\x00\xfe\xff" + text.encode("utf-16-be"), "<"),
        (b"UNICODE\x00" + text.encode("utf-16-le"), ">"),  # against the EXIF: the other order is tried
    ]:
        found, _ = entries(jpeg_user_comment(raw, "JPEG", endian))
        assert found == [("exif:UserComment", "AUTOMATIC1111", True)]


@pytest.mark.parametrize("exif", [b"Exif\x00\x00not a TIFF header", b"Exif\x00\x00XX\x00*\x00\x00\x00\x08"])
def test_a_broken_exif_in_a_webp_leaves_the_xmp_evidence(exif):
    found, item = entries(encode(photo(), "WEBP", exif=exif, xmp=AI_XMP.encode()))
    assert found == [("xmp:DigitalSourceType", None, True)]
    assert item["verdict"] == "likely_ai"


def raw_profile(name: str, payload: bytes) -> str:
    """ImageMagick's PNG text for a profile (coders/png.c): "\\n<name>\\n<length, %8lu>\\n", hex, 72 digits a line."""
    digits = payload.hex()
    return f"\n{name}\n{len(payload):8d}\n" + "\n".join(digits[i : i + 72] for i in range(0, len(digits), 72)) + "\n"


def png_with(chunk: tuple[bytes, bytes], after_pixels: bool = False) -> bytes:
    own = png_chunks(encode(photo(), "PNG"))
    return png_from_chunks([*own[:-1], chunk, own[-1]] if after_pixels else [own[0], chunk, *own[1:]])


def text_chunk(kind: bytes, keyword: str, text: str) -> tuple[bytes, bytes]:
    head = keyword.encode("latin-1") + b"\x00"
    if kind == b"zTXt":
        return kind, head + b"\x00" + zlib.compress(text.encode("latin-1"))
    if kind == b"iTXt":
        return kind, head + b"\x00\x00\x00\x00" + text.encode()
    return kind, head + text.encode("latin-1")


@pytest.mark.parametrize("kind", [b"zTXt", b"tEXt", b"iTXt"])
@pytest.mark.parametrize("after_pixels", [False, True], ids=["before-pixels", "after-pixels"])
def test_imagemagick_raw_profiles_in_png_text(kind, after_pixels):
    # ImageMagick 6 ("convert ai.jpg out.png") keeps a JPEG's XMP as zTXt "Raw profile type xmp".
    xmp = text_chunk(kind, "Raw profile type xmp", raw_profile("xmp", AI_XMP.encode()))
    found, item = entries(png_with(xmp, after_pixels))
    assert found == [("xmp:DigitalSourceType", None, True)] and item["verdict"] == "likely_ai"
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + f"a lighthouse\n{A1111_LINE}".encode("utf-16-be")
    found, _ = entries(
        png_with(text_chunk(kind, "Raw profile type exif", raw_profile("exif", exif.tobytes())), after_pixels)
    )
    assert found == [("exif:UserComment", "AUTOMATIC1111", True)]


def test_raw_profiles_are_decoded_within_bounds():
    payload = bytes(range(256)) * 4000  # 1 MB: only the first `limit` bytes are decoded
    assert skipped_metadata.raw_profile(raw_profile("xmp", payload), 1000) == payload[:1000]
    assert skipped_metadata.raw_profile(raw_profile("xmp", b"<x/>"), XMP_SCAN_BYTES) == b"<x/>"
    for text in [
        "\nxmp\n       4\nnot hex!\n",
        "\nxmp\nfour\n3c782f3e\n",
        "\nxmp\n" + "9" * 5000 + "\n3c782f3e\n",
        "\n\n       4\n3c782f3e\n",
        "no profile",
        "",
    ]:
        assert skipped_metadata.raw_profile(text, XMP_SCAN_BYTES) is None
    assert skipped_metadata.raw_profile(b"\nxmp\n4\n3c782f3e", XMP_SCAN_BYTES) is None  # text only
