"""Generator metadata: what image generators write into the files they save, read through Pillow.

Unlike Content Credentials, none of this is signed: anyone can add it to a
photograph or strip it from a generated image, so an entry can move a verdict
to "likely AI" at most (see `imageauth.verdict`), and its `detail` says so.
What each generator writes, with the source that shows it:

- AUTOMATIC1111 stable-diffusion-webui (and its forks Forge and SD.Next):
  `modules/images.py` `save_image_with_geninfo` puts the generation settings
  ("<prompt>\\nNegative prompt: ...\\nSteps: 20, Sampler: ..., Seed: ...,
  Version: ...") in the PNG text chunk `parameters`, and for JPEG and WebP in
  EXIF UserComment (piexif `UserComment.dump(..., encoding="unicode")`).
  Forge's version string starts with "f" ("Version: f2.0.1v1.10.1"); SD.Next
  adds "App: SD.Next".
- ComfyUI: `nodes.py` `SaveImage.save_images` writes the text chunks `prompt`
  (the API graph: nodes with a "class_type") and `workflow` (the editor graph,
  with a "nodes" list).
- InvokeAI: `invokeai_metadata` (3.x and later, plus `invokeai_graph` and
  `invokeai_workflow`); 2.x wrote `sd-metadata` and `Dream`.
- NovelAI: PNG text `Software` = "NovelAI", `Source` naming the model, and the
  settings as JSON in `Comment`.
- Fooocus: `modules/meta_parser.py` writes `parameters` (JSON with a "version":
  "Fooocus v2...") and `fooocus_scheme`; for JPEG and WebP, EXIF UserComment
  (0x9286) and Software (0x0131) = "Fooocus v2...".
- SwarmUI: `parameters` holding JSON with a "sui_image_params" object.
- IPTC DigitalSourceType in XMP (`Iptc4xmpExt:DigitalSourceType`), which IPTC
  asks generators to set to `trainedAlgorithmicMedia`
  (https://iptc.org/standards/photo-metadata/iptc-standard/, "Digital Source
  Type"); Google, Meta and Midjourney label generated images this way.
"""

from __future__ import annotations

import re

from PIL import Image

# Long values (a ComfyUI workflow can be hundreds of kilobytes) are only looked at this far.
SCAN_CHARS = 64 * 1024
UNSIGNED = "unsigned metadata that anyone can add to or strip from a file"
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286
EXIF_SOFTWARE = 0x0131
# Names of generators in a Software field, lower-cased, with the name reported. Editors
# (Photoshop, GIMP, Lightroom) are deliberately absent: editing is not generating.
GENERATOR_SOFTWARE = (
    ("novelai", "NovelAI"),
    ("fooocus", "Fooocus"),
    ("comfyui", "ComfyUI"),
    ("invokeai", "InvokeAI"),
    ("swarmui", "SwarmUI"),
    ("automatic1111", "AUTOMATIC1111"),
    ("stable diffusion", "Stable Diffusion"),
    ("midjourney", "Midjourney"),
    ("dall-e", "DALL·E"),
    ("dall·e", "DALL·E"),
    ("adobe firefly", "Adobe Firefly"),
)
INVOKEAI_CHUNKS = ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata", "Dream")
DIGITAL_SOURCE_TYPE = re.compile(rb"DigitalSourceType(?:\s*=\s*[\"']|>)\s*([^\"'<\s]+)")
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), by their last path
# segment: the generated family, and the captured family (a phone's "computational capture" included).
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia"})
CAPTURE_SOURCE_TYPES = frozenset({"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm"})


def metadata_evidence(image: Image.Image) -> list[dict]:
    """Entries for every known generator signature in an opened (not decoded) image."""
    found: list[dict] = []
    info = image.info
    if image.format == "PNG":
        found.extend(_png_text_entries(info))
    # Pillow's PNG getexif() decodes every pixel to look for an eXIf chunk after the image data:
    # only an eXIf chunk met while opening (before the pixels, where writers put it) is read.
    exif = image.getexif() if image.format != "PNG" or "exif" in info else None
    comment = _user_comment(exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)) if exif else None
    if comment:
        generator = _parameters_generator(comment)
        if generator:
            found.append(_entry("exif:UserComment", generator, "the EXIF UserComment", "generation settings"))
    software = exif.get(EXIF_SOFTWARE) if exif else None
    generator = _software_generator(software)
    if generator:
        found.append(_entry("exif:Software", generator, "the EXIF Software tag", "the generator's name"))
    xmp = info.get("xmp")
    if isinstance(xmp, bytes | str):
        entry = _xmp_entry(xmp.encode("utf-8", "replace") if isinstance(xmp, str) else xmp)
        if entry:
            found.append(entry)
    return found


def _png_text_entries(info: dict) -> list[dict]:
    found = []
    parameters = _text(info.get("parameters"))
    generator = _parameters_generator(parameters) if parameters else None
    if generator:
        found.append(_entry("png:parameters", generator, "the PNG text chunk 'parameters'", "generation settings"))
    prompt = _text(info.get("prompt"))
    if prompt and '"class_type"' in prompt:
        found.append(_entry("png:prompt", "ComfyUI", "the PNG text chunk 'prompt'", "a ComfyUI generation graph"))
    workflow = _text(info.get("workflow"))
    if workflow and '"nodes"' in workflow:
        found.append(_entry("png:workflow", "ComfyUI", "the PNG text chunk 'workflow'", "a ComfyUI workflow"))
    chunk = next((name for name in INVOKEAI_CHUNKS if _text(info.get(name))), None)
    if chunk:
        source = "png:invokeai_metadata" if chunk.startswith("invokeai") else f"png:{chunk}"
        found.append(_entry(source, "InvokeAI", f"the PNG text chunk '{chunk}'", "InvokeAI generation settings"))
    generator = _software_generator(info.get("Software"))
    if generator:
        found.append(_entry("png:Software", generator, "the PNG text chunk 'Software'", "the generator's name"))
    return found


def _entry(source: str, generator: str, where: str, what: str) -> dict:
    return {
        "kind": "metadata",
        "source": source,
        "ai_generated": True,
        "generator": generator,
        "detail": f"{what.capitalize()} of {generator} in {where}; {UNSIGNED}.",
    }


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value[:SCAN_CHARS].decode("utf-8", "replace")
    return value[:SCAN_CHARS] if isinstance(value, str) and value.strip() else None


def _parameters_generator(text: str) -> str | None:
    """The front-end that wrote a `parameters` text, or None if it does not look like generation settings."""
    text = text[:SCAN_CHARS]
    if text.lstrip().startswith("{"):
        if '"sui_image_params"' in text:
            return "SwarmUI"
        if "fooocus" in text.lower():
            return "Fooocus"
        return None
    if "Steps: " not in text or not ("Sampler: " in text or "Seed: " in text):
        return None
    if "App: SD.Next" in text:
        return "SD.Next"
    if re.search(r"Version: f\d", text):
        return "Stable Diffusion WebUI Forge"
    return "AUTOMATIC1111"


def _software_generator(value: object) -> str | None:
    text = _text(value)
    if not text:
        return None
    lowered = text[:200].lower()
    return next((name for key, name in GENERATOR_SOFTWARE if key in lowered), None)


def _user_comment(raw: object) -> str | None:
    """EXIF UserComment: an 8-byte character code (ASCII, UNICODE, JIS or none), then the text."""
    if isinstance(raw, str):
        return raw[:SCAN_CHARS]
    if not isinstance(raw, bytes) or len(raw) <= 8:
        return None
    code, body = raw[:8], raw[8 : 8 + 2 * SCAN_CHARS]
    if code.startswith(b"UNICODE"):
        # piexif writes UTF-16 big-endian; some writers use little-endian, which puts the zero byte
        # of an ASCII character second.
        little_endian = len(body) > 1 and body[0] != 0 and body[1] == 0
        return body.decode("utf-16-le" if little_endian else "utf-16-be", "replace")
    return body.decode("utf-8", "replace").strip("\x00")


def _xmp_entry(xmp: bytes) -> dict | None:
    match = DIGITAL_SOURCE_TYPE.search(xmp[: 4 * SCAN_CHARS])
    if not match:
        return None
    value = match.group(1).decode("ascii", "replace").rstrip("/").rsplit("/", 1)[-1]
    if value not in AI_SOURCE_TYPES | CAPTURE_SOURCE_TYPES:
        return None
    ai_generated = value in AI_SOURCE_TYPES
    says = "made by an AI generator" if ai_generated else "captured by a camera or scanner"
    return {
        "kind": "metadata",
        "source": "xmp:DigitalSourceType",
        "ai_generated": ai_generated,
        "generator": None,
        "detail": f"The XMP IPTC DigitalSourceType '{value}' says this image was {says}; {UNSIGNED}.",
    }
