"""Generator metadata: what image generators write into the files they save, read through Pillow.

Unlike Content Credentials, none of this is signed: anyone can add it to a
photograph or strip it from a generated image, so an entry can move a verdict
to "likely AI" at most (see `imageauth.verdict`), and its `detail` says so.
What each generator writes, with the source that shows it:

- AUTOMATIC1111 stable-diffusion-webui (and its forks Forge and SD.Next):
  `modules/images.py` `save_image_with_geninfo` puts the generation settings
  ("<prompt>\\nNegative prompt: ...\\nSteps: 20, Sampler: ..., Seed: ...,
  Version: ...") in the PNG text chunk `parameters`, for JPEG and WebP in
  EXIF UserComment (piexif `UserComment.dump(..., encoding="unicode")`), and
  for GIF in the comment extension (`image.save(..., comment=geninfo)`, 1.7
  and later). Forge's version string starts with "f" ("Version:
  f2.0.1v1.10.1"); SD.Next adds "App: SD.Next".
- ComfyUI: `nodes.py` `SaveImage.save_images` writes the text chunks `prompt`
  (the API graph: nodes with a "class_type") and `workflow` (the editor graph,
  with a "nodes" list). `comfy_extras/nodes_images.py` `SaveAnimatedWEBP`
  writes the same two graphs into EXIF instead: Model (0x0110) =
  "prompt:{...}", Make (0x010F) = "workflow:{...}" (a further key would go to
  ImageDescription, 0x010E).
- InvokeAI: `invokeai_metadata` (3.x and later, plus `invokeai_graph` and
  `invokeai_workflow`); 2.x wrote `sd-metadata` and `Dream`.
- NovelAI: PNG text `Software` = "NovelAI", `Source` naming the model, and the
  settings as JSON in `Comment`.
- Fooocus: `modules/meta_parser.py` writes `parameters` (JSON with a "version":
  "Fooocus v2...", or in its "a1111" scheme AUTOMATIC1111's text ending in
  "Version: Fooocus v2...") and `fooocus_scheme`; for JPEG and WebP, `get_exif` sets
  UserComment (0x9286) and Software (0x0131) = "Fooocus v2..." on the
  top-level `Image.Exif`, so the UserComment lands in IFD0, not the Exif
  sub-IFD where AUTOMATIC1111 puts it.
- SwarmUI: `parameters` holding JSON with a "sui_image_params" object; for
  JPEG, WebP and TIFF the same JSON in EXIF UserComment (`src/Utils/Image.cs`
  `ConvertTo`; `docs/Image Metadata Format.md`).
- Easy Diffusion: sdkit's `sdkit/utils/file_utils.py` `save_dicts(...,
  output_format="embed")` writes one PNG text chunk per setting (`prompt`,
  `use_stable_diffusion_model`, `num_inference_steps`, ...; the display names,
  such as `Stable Diffusion model`, when the "txt" metadata format is chosen
  too: `ui/easydiffusion/utils/save_utils.py` `TASK_TEXT_MAPPING`), and for
  JPEG and WebP the same settings as JSON in EXIF UserComment.
- Draw Things (closed source; as the readers of its files parse it, e.g.
  receyuki/stable-diffusion-prompt-reader `image_data_reader.py` and
  `format/drawthings.py`): an XMP packet whose `xmp:CreatorTool` is
  "Draw Things", with the settings as JSON in `exif:UserComment`.
- Midjourney (as readers of its downloads parse them, e.g.
  Ktiseos-Nyx/Dataset-Tools `dataset_tools/vendored_sdpr/format/midjourney.py`):
  PNG text `Description` = "<prompt> --ar 2:1 --v 6 Job ID: <uuid>", and an
  XMP `iptcExt:DigitalSourceType` (below).
- IPTC DigitalSourceType in XMP (`Iptc4xmpExt:DigitalSourceType`), which IPTC
  asks generators to set to `trainedAlgorithmicMedia`
  (https://iptc.org/standards/photo-metadata/iptc-standard/, "Digital Source
  Type"); Google, Meta and Midjourney label generated images this way. RDF/XML
  lets a writer put the value in an attribute, in element text, or, being a
  URI, in an `rdf:resource` attribute; `imageauth.xmp` reads all three.
  `compositeWithTrainedAlgorithmicMedia` (for instance a photograph
  edited with generative fill) is reported as AI content combined with other
  material, not as an image made by a generator.
"""

from __future__ import annotations

import re

from PIL import Image

from imageauth.xmp import xmp_text, xmp_values

# Long values (a ComfyUI workflow can be hundreds of kilobytes) are only looked at this far.
SCAN_CHARS = 64 * 1024
UNSIGNED = "unsigned metadata that anyone can add to or strip from a file"
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286
EXIF_SOFTWARE = 0x0131
# IFD0 tags ComfyUI's SaveAnimatedWEBP fills with its graphs, by the name reported.
EXIF_GRAPH_TAGS = {0x0110: "Model", 0x010F: "Make", 0x010E: "ImageDescription"}
# Names of generators in a Software (or XMP CreatorTool) field, lower-cased, with the name reported.
# Editors (Photoshop, GIMP, Lightroom) are deliberately absent: editing is not generating.
GENERATOR_SOFTWARE = (
    ("novelai", "NovelAI"),
    ("fooocus", "Fooocus"),
    ("comfyui", "ComfyUI"),
    ("invokeai", "InvokeAI"),
    ("swarmui", "SwarmUI"),
    ("automatic1111", "AUTOMATIC1111"),
    ("draw things", "Draw Things"),
    ("stable diffusion", "Stable Diffusion"),
    ("midjourney", "Midjourney"),
    ("dall-e", "DALL·E"),
    ("dall·e", "DALL·E"),
    ("adobe firefly", "Adobe Firefly"),
)
INVOKEAI_CHUNKS = ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata", "Dream")
# Easy Diffusion's PNG text chunks that no other generator writes (its `prompt` chunk is plain text).
EASY_DIFFUSION_CHUNKS = ("use_stable_diffusion_model", "Stable Diffusion model")
# Patterns as text: `re` compiles (and caches) them at first use, not at import, which is cold start.
MIDJOURNEY_JOB = r"Job ID:\s*[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
MIDJOURNEY_PARAMETER = r"\s--(?:ar|aspect|v|version|niji|s|stylize|q|quality|c|chaos|style|seed)\b"
# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), by their last path
# segment: the generated family, and the captured family (a phone's "computational capture" included).
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia"})
COMPOSITE_SOURCE_TYPES = frozenset({"compositeWithTrainedAlgorithmicMedia"})
CAPTURE_SOURCE_TYPES = frozenset({"digitalCapture", "computationalCapture", "negativeFilm", "positiveFilm"})


def metadata_evidence(image: Image.Image, xmp: str | None = None, late_info: dict | None = None) -> list[dict]:
    """Entries for every known generator signature in an opened (not decoded) image.

    `xmp`: the decoded XMP packet when the caller found one Pillow did not; else Pillow's is read.
    `late_info`: a PNG's text and eXIf chunks after the pixels (`skipped_metadata`), which Pillow's
    `info` lacks until it decodes them. A keyword on both sides counts where it comes first: what
    Pillow shows of an opened file (once it decodes, Pillow keeps the last).
    """
    found: list[dict] = []
    info = {**(late_info or {}), **image.info} if image.format == "PNG" else image.info
    if image.format == "PNG":
        found.extend(_png_text_entries(info))
    if image.format == "GIF":
        generator = _parameters_generator(_text(info.get("comment")) or "")
        if generator:
            found.append(_entry("gif:comment", generator, "the GIF comment", "generation settings"))
    exif = _exif(image, info)
    if exif:
        found.extend(_exif_entries(exif))
    xmp = xmp or xmp_text(info.get("xmp"))
    if xmp:
        found.extend(_xmp_entries(xmp))
    return found


def _exif(image: Image.Image, info: dict) -> Image.Exif | None:
    if image.format != "PNG":
        return image.getexif()
    # Pillow's PNG getexif() decodes every pixel to find an eXIf chunk after the image data: the
    # chunk's bytes come from `info` instead, from before the pixels (Pillow's) or after them.
    if not isinstance(info.get("exif"), bytes):
        return None
    exif = Image.Exif()
    try:
        exif.load(info["exif"])
    except SyntaxError:  # not a TIFF header: no EXIF entries, the text chunks still count
        return None
    return exif


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
    chunk = next((name for name in EASY_DIFFUSION_CHUNKS if _text(info.get(name))), None)
    if chunk:
        where = f"the PNG text chunk '{chunk}'"
        found.append(_entry(f"png:{chunk}", "Easy Diffusion", where, "Easy Diffusion generation settings"))
    description = _text(info.get("Description"))
    if description and re.search(MIDJOURNEY_JOB, description) and re.search(MIDJOURNEY_PARAMETER, description):
        where = "the PNG text chunk 'Description'"
        found.append(_entry("png:Description", "Midjourney", where, "a Midjourney prompt and job ID"))
    generator = _software_generator(info.get("Software"))
    if generator:
        found.append(_entry("png:Software", generator, "the PNG text chunk 'Software'", "the generator's name"))
    return found


def _exif_entries(exif: Image.Exif) -> list[dict]:
    found = []
    # The Exif sub-IFD, where the standard puts UserComment (AUTOMATIC1111, SwarmUI, Easy Diffusion),
    # then IFD0, where Fooocus puts it.
    comment = _user_comment(exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)) or _user_comment(exif.get(EXIF_USER_COMMENT))
    generator = _parameters_generator(comment) if comment else None
    if generator:
        found.append(_entry("exif:UserComment", generator, "the EXIF UserComment", "generation settings"))
    for tag, name in EXIF_GRAPH_TAGS.items():
        value = _text(exif.get(tag))
        if value and value.startswith("prompt:") and '"class_type"' in value:
            found.append(_entry(f"exif:{name}", "ComfyUI", f"the EXIF {name} tag", "a ComfyUI generation graph"))
        elif value and value.startswith("workflow:") and '"nodes"' in value:
            found.append(_entry(f"exif:{name}", "ComfyUI", f"the EXIF {name} tag", "a ComfyUI workflow"))
    generator = _software_generator(exif.get(EXIF_SOFTWARE))
    if generator:
        found.append(_entry("exif:Software", generator, "the EXIF Software tag", "the generator's name"))
    return found


def _entry(source: str, generator: str, where: str, what: str) -> dict:
    return {
        "kind": "metadata",
        "source": source,
        "ai_generated": True,
        "generator": generator,
        "detail": f"{what[0].upper() + what[1:]} of {generator} in {where}; {UNSIGNED}.",
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
        if '"use_stable_diffusion_model"' in text:
            return "Easy Diffusion"
        if "fooocus" in text.lower():
            return "Fooocus"
        return None
    if "Steps: " not in text or not ("Sampler: " in text or "Seed: " in text):
        return None
    if "App: SD.Next" in text:
        return "SD.Next"
    if re.search(r"Version: Fooocus v\d", text):  # Fooocus's "a1111" metadata scheme
        return "Fooocus"
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


def source_type_says(value: str, made_by: str = "") -> str:
    """What an IPTC digital source type (last path segment) says, after "this image"; `made_by`: " (name)"."""
    if value in COMPOSITE_SOURCE_TYPES:
        return f"combines AI-generated content{made_by} with other material (a composite, e.g. generative fill)"
    if value == "algorithmicMedia":
        return f"was generated by an algorithm{made_by}, not captured (IPTC algorithmicMedia)"
    if value in AI_SOURCE_TYPES:
        return f"was made with an AI generator{made_by}"
    return "was captured by a camera or scanner"


def _xmp_entries(xmp: str) -> list[dict]:
    found = []
    values = [value.rstrip("/").rsplit("/", 1)[-1] for value in xmp_values(xmp, "DigitalSourceType")]
    value = next((value for value in values if value in AI_SOURCE_TYPES | CAPTURE_SOURCE_TYPES), None)
    if value:
        ai_generated = value in AI_SOURCE_TYPES
        found.append(
            {
                "kind": "metadata",
                "source": "xmp:DigitalSourceType",
                "ai_generated": ai_generated,
                "generator": None,
                "detail": f"The XMP IPTC DigitalSourceType '{value}' says this image {source_type_says(value)}; "
                f"{UNSIGNED}.",
            }
        )
    generator = next(filter(None, map(_software_generator, xmp_values(xmp, "CreatorTool"))), None)
    if generator:
        found.append(_entry("xmp:CreatorTool", generator, "the XMP CreatorTool", "the generator's name"))
    return found
