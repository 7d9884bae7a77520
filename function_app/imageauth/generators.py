"""Generator metadata: what image generators write into the files they save, read through Pillow.

Unlike Content Credentials, none of this is signed: anyone can add it to a
photograph or strip it from a generated image, so an entry can move a verdict
to "likely AI" at most (see `imageauth.verdict`), and its `detail` says so.
What each generator writes, with the source that shows it:

- AUTOMATIC1111 stable-diffusion-webui (and its forks Forge and SD.Next):
  `modules/images.py` `save_image_with_geninfo` puts the generation settings
  ("<prompt>\\nNegative prompt: ...\\nSteps: 20, Sampler: ..., Seed: ...,
  Version: ...") in the PNG text chunk `parameters`, for JPEG and WebP in
  EXIF UserComment (piexif `UserComment.dump(..., encoding="unicode")`:
  UTF-16 big-endian, in a big-endian EXIF), and for GIF in the comment
  extension (`image.save(..., comment=geninfo)`, 1.7 and later). Its own
  parser (`modules/infotext_utils.py` `parse_generation_parameters`) wants
  the settings as `key: value` pairs on the last line, which
  `create_infotext` starts with "Steps: <int>, ". Forge's version string
  starts with "f" ("Version: f2.0.1v1.10.1"); SD.Next adds "App: SD.Next".
- ComfyUI: `nodes.py` `SaveImage.save_images` writes the text chunks `prompt`
  (the API graph: nodes with a "class_type") and `workflow` (the editor graph,
  with a "nodes" list, each with a "type"). `comfy_extras/nodes_images.py`
  `SaveAnimatedWEBP` writes the same two graphs into EXIF instead: Model
  (0x0110) = "prompt:{...}", Make (0x010F) = "workflow:{...}" (a further key
  would go to ImageDescription, 0x010E); `SaveAnimatedPNG` into private
  `comf` chunks after the image data ("prompt\\0{...}", "workflow\\0{...}").
  ComfyUI saves every graph so, generative or not (a photograph only resized
  or upscaled in it too): a graph counts as generation only with a node that
  samples, a class containing "Sampler" (`nodes.py` KSampler and
  KSamplerAdvanced, `comfy_extras/nodes_custom_sampler.py` SamplerCustom and
  SamplerCustomAdvanced, custom nodes' samplers such as Efficient Nodes'
  TSC_KSampler or the Impact Pack's KSamplerBasicPipe), or with one of the
  API nodes that generate remotely (`comfy_api_nodes/nodes_openai.py`,
  `nodes_bfl.py`, `nodes_gemini.py`); any other graph says only that ComfyUI
  processed the image (`ai_generated` null).
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
  asks generators to set to `trainedAlgorithmicMedia`; Google, Meta and
  Midjourney label generated images this way. What each value says is
  `imageauth.source_types`' (C2PA actions carry the same vocabulary). RDF/XML
  lets a writer put the value in an attribute, in element text, or, being a
  URI, in an `rdf:resource` attribute; `imageauth.xmp` reads all three.
"""

from __future__ import annotations

import re

from PIL import Image

from imageauth.skipped_metadata import RAW_PROFILE_EXIF, raw_profile
from imageauth.source_types import AI_SOURCE_TYPES, CAPTURE_SOURCE_TYPES, source_type_says
from imageauth.xmp import XMP_SCAN_BYTES, xmp_text, xmp_values

# Long values (a ComfyUI workflow can be hundreds of kilobytes) are only looked at this far.
SCAN_CHARS = 64 * 1024
UNSIGNED = "unsigned metadata that anyone can add to or strip from a file"
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286
EXIF_SOFTWARE = 0x0131
# IFD0 tags ComfyUI's SaveAnimatedWEBP fills with its graphs, by the name reported.
EXIF_GRAPH_TAGS = {0x0110: "Model", 0x010F: "Make", 0x010E: "ImageDescription"}
# What marks each of ComfyUI's graphs: the API graph's nodes have a "class_type", the editor's are a "nodes" list.
COMFYUI_GRAPHS = {"prompt": '"class_type"', "workflow": '"nodes"'}
# A node's class in either graph ("class_type", or "type" in the editor's), and the API nodes that
# generate remotely (comfy_api_nodes/nodes_openai.py, nodes_bfl.py, nodes_gemini.py).
COMFYUI_NODE = r'"(?:class_type|type)"\s*+:\s*+"([^"]{1,128}+)"'
COMFYUI_API_GENERATORS = frozenset(
    {"OpenAIDalle2", "OpenAIDalle3", "OpenAIGPTImage1", "FluxProImageNode", "FluxProUltraImageNode", "GeminiImageNode"}
)
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
# AUTOMATIC1111's settings line, as `create_infotext` writes it and `parse_generation_parameters` reads
# it: "Steps: <int>, " first, then `key: value` pairs, the sampler, seed or CFG scale among them.
A1111_SETTINGS = r"(?m)^Steps: \d{1,6}, (?:[^\n]*?, )?(?:Sampler|Seed|CFG scale): \S"


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
    found.extend(_exif_evidence(image, info))
    xmp = xmp or xmp_text(info.get("xmp"))
    if xmp:
        found.extend(_xmp_entries(xmp))
    return found


def _exif_evidence(image: Image.Image, info: dict) -> list[dict]:
    try:
        exif = _exif(image, info)
        return _exif_entries(exif) if exif else []
    except Exception:  # noqa: BLE001 - a broken EXIF block (not TIFF, say): no EXIF entries, the rest still count
        return []


def _exif(image: Image.Image, info: dict) -> Image.Exif | None:
    """The image's EXIF; raises what Pillow raises for a broken block (SyntaxError: not TIFF)."""
    if image.format != "PNG":
        return image.getexif()
    # Pillow's PNG getexif() decodes every pixel to find an eXIf chunk after the image data: the
    # chunk's bytes come from `info` instead, from before the pixels (Pillow's) or after them, or
    # from ImageMagick's hex text (which Pillow's getexif() reads too).
    raw = info.get("exif")
    raw = raw if isinstance(raw, bytes) else raw_profile(info.get(RAW_PROFILE_EXIF), XMP_SCAN_BYTES)
    if not raw:
        return None
    exif = Image.Exif()
    exif.load(raw)
    return exif


def _png_text_entries(info: dict) -> list[dict]:
    found = []
    parameters = _text(info.get("parameters"))
    generator = _parameters_generator(parameters) if parameters else None
    if generator:
        found.append(_entry("png:parameters", generator, "the PNG text chunk 'parameters'", "generation settings"))
    # SaveImage's text chunks, then SaveAnimatedPNG's private "comf" ones (read by `skipped_metadata`).
    graphs = [(graph, graph, f"the PNG text chunk '{graph}'") for graph in COMFYUI_GRAPHS]
    graphs += [(graph, f"comf:{graph}", f"the PNG chunk 'comf' ({graph})") for graph in COMFYUI_GRAPHS]
    for graph, key, where in graphs:
        entry = _comfyui_entry(f"png:{key}", where, graph, _text(info.get(key)))
        if entry:
            found.append(entry)
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
    raw = exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT)
    readings = _user_comment(raw, exif.endian) or _user_comment(exif.get(EXIF_USER_COMMENT), exif.endian)
    generator = next(filter(None, map(_parameters_generator, readings)), None)
    if generator:
        found.append(_entry("exif:UserComment", generator, "the EXIF UserComment", "generation settings"))
    for tag, name in EXIF_GRAPH_TAGS.items():
        value = _text(exif.get(tag)) or ""
        graph = next((graph for graph in COMFYUI_GRAPHS if value.startswith(f"{graph}:")), None)
        entry = _comfyui_entry(f"exif:{name}", f"the EXIF {name} tag", graph, value) if graph else None
        if entry:
            found.append(entry)
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


def _comfyui_entry(source: str, where: str, graph: str, text: str | None) -> dict | None:
    """The entry for a ComfyUI graph (`graph`: "prompt" or "workflow") in `text`, None if it holds none.

    Generation only when a node samples or is an API generator: ComfyUI saves the graph of every
    image it writes, a photograph it only resized, cropped or upscaled as well.
    """
    if not text or COMFYUI_GRAPHS[graph] not in text:
        return None
    name = "graph" if graph == "prompt" else "workflow"
    classes = (match.group(1) for match in re.finditer(COMFYUI_NODE, text[:SCAN_CHARS]))
    if any("Sampler" in node or node in COMFYUI_API_GENERATORS for node in classes):
        return _entry(source, "ComfyUI", where, f"a generation {name}")
    return {
        "kind": "metadata",
        "source": source,
        "ai_generated": None,
        "generator": None,
        "detail": f"A ComfyUI {name} without a sampler or generation node in {where}: the image was processed "
        f"with ComfyUI, which says nothing of how it was made; {UNSIGNED}.",
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
    if not re.search(A1111_SETTINGS, text):
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


def _user_comment(raw: object, endian: str | None) -> list[str]:
    """EXIF UserComment: an 8-byte character code (ASCII, UNICODE, JIS or none), then the text.

    The text's readings, most likely first; none when it is empty. UNICODE is UTF-16 in the byte
    order of a byte-order mark, else in the EXIF's own (`endian`: "<" for an "II" header, ">" for
    "MM"), as piexif (AUTOMATIC1111: a big-endian EXIF) and ExifTool write it; then, for writers
    that ignore it, in the other order. (The bytes alone cannot tell: a prompt starting with
    一, U+4E00, reads as "N" in the wrong order.)
    """
    if isinstance(raw, str):
        return [raw[:SCAN_CHARS]] if raw.strip("\x00") else []
    if not isinstance(raw, bytes) or len(raw) <= 8:
        return []
    code, body = raw[:8], raw[8 : 8 + 2 * SCAN_CHARS]
    if not code.startswith(b"UNICODE"):
        text = body.decode("utf-8", "replace").strip("\x00")
        return [text] if text else []
    if body.startswith((b"\xfe\xff", b"\xff\xfe")):
        return [body[2:].decode("utf-16-be" if body[0] == 0xFE else "utf-16-le", "replace")]
    orders = ("utf-16-le", "utf-16-be") if endian == "<" else ("utf-16-be", "utf-16-le")
    return [body.decode(codec, "replace") for codec in orders]


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
