"""What the file itself says about where it came from: C2PA Content Credentials and generator metadata.

`examine` is the one entry point (HTTP API, blob trigger and CLI all reach it
through `predict_bytes`). It returns a list of evidence entries, empty when the
file says nothing, plus two facts about what the model was shown (alpha,
animation). It never raises for a hostile file: whatever cannot be read
becomes an entry that says so, and the item keeps its model score.

C2PA manifests are read and validated by c2pa-python, the official binding of
c2pa-rs; nothing here parses JUMBF. The binding carries a 20 MB native library,
so it is imported only when the file carries a manifest marker (a JPEG APP11
JUMBF segment, a PNG `caBX` chunk, a WebP `C2PA` chunk, or a JUMBF box in any
other container): a file without one, which is almost every upload, costs a
header walk and leaves cold start untouched. Generator metadata (unsigned) is
recognised in `imageauth.generators`.

A file may carry only a reference to a manifest kept elsewhere: the URL in the
XMP property `dcterms:provenance` (C2PA 2.1 §15.5, "Locating the Active
Manifest"). Nothing is fetched from a request; such a file gets an `unreadable`
entry that names the reference. What a manifest store says is read in
`imageauth.manifest_store`.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from imageauth import heif, heif_process
from imageauth.decode_limits import CappedReader
from imageauth.generators import metadata_evidence
from imageauth.manifest_markers import crowded_container, manifest_size
from imageauth.manifest_store import MAX_NAME_CHARS, c2pa_entry, describe_store, unreadable
from imageauth.pixels import COLOUR_KEY_MODES
from imageauth.preprocess import ALLOWED_FORMATS, ImageError
from imageauth.skipped_metadata import RAW_PROFILE_XMP, gif_xmp, png_info_after_pixels, raw_profile, webp_chunk
from imageauth.xmp import XMP_SCAN_BYTES, xmp_text, xmp_values

logger = logging.getLogger("imageauth.provenance")

# Real manifests are kilobytes to a few hundred kilobytes (a thumbnail, a few
# ingredients); 8 MiB leaves room for long edit histories and refuses the rest.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "AVIF": "image/avif",
    "HEIF": "image/heic",
}
# Modes that `pixels.to_rgb` composites on white (with a palette's or a colour key's `transparency`
# too); keep the two in step.
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})


@dataclass(frozen=True)
class FileFacts:
    """What `examine` found: evidence entries, and what the model's input lost (alpha, later frames)."""

    evidence: list[dict] = field(default_factory=list)
    has_alpha: bool = False
    animated: bool = False
    # Images in a HEIF collection (a burst, an edit beside its original): the model sees the primary one.
    heif_images: int = 1


def examine(data: bytes, trust_anchors: Path | None = None) -> FileFacts:
    """Evidence and input facts for one file that `preprocess.load_image` already accepted."""
    if heif_process.goes_to_child(data):
        try:  # libheif reads the file's metadata as it opens it: in the decoder's child process
            return FileFacts(**heif_process.examine(data, str(trust_anchors) if trust_anchors else None))
        except ImageError as error:
            logger.info("metadata could not be read (%s)", error.code)
            return FileFacts()
    evidence: list[dict] = []
    manifest_bytes = manifest_size(data)
    if manifest_bytes is not None:
        entry = read_credentials(data, manifest_bytes, trust_anchors)
        if entry is not None:
            evidence.append(entry)
    has_alpha = animated = False
    heif_images = 1
    try:
        with Image.open(CappedReader(data), formats=heif.pillow_formats(data, ALLOWED_FORMATS)) as image:
            keyed = "transparency" in image.info and image.mode in ("P", *COLOUR_KEY_MODES)
            has_alpha = image.mode in ALPHA_MODES or keyed
            several = bool(getattr(image, "is_animated", False))
            heif_images = image.n_frames if several and image.format == heif.FORMAT else 1
            animated = several and heif_images == 1
            late_info = png_info_after_pixels(data, XMP_SCAN_BYTES) if image.format == "PNG" else {}
            xmp = xmp_text(image.info.get("xmp")) or xmp_text(late_info.get("xmp"))
            xmp = xmp or _skipped_xmp(image, data, late_info)
            remote = remote_manifest(xmp) if manifest_bytes is None and xmp else None
            if remote is not None:
                evidence.append(remote)
            evidence.extend(metadata_evidence(image, xmp, late_info))
    except Exception as error:  # noqa: BLE001 - metadata is a bonus: a file the model could read keeps its score
        # Untrusted input, not a fault: one line, no traceback and nothing from the file.
        logger.info("metadata could not be read (%s)", type(error).__name__)
    return FileFacts(evidence=evidence, has_alpha=has_alpha, animated=animated, heif_images=heif_images)


def _skipped_xmp(image: Image.Image, data: bytes, late_info: dict) -> str | None:
    """XMP where Pillow does not look: a GIF's XMP extension, a simple WebP's "XMP " chunk, ImageMagick's PNG text."""
    if image.format == "PNG":  # "Raw profile type xmp", before the pixels (Pillow's) or after them
        text = image.info.get(RAW_PROFILE_XMP) or late_info.get(RAW_PROFILE_XMP)
        return xmp_text(raw_profile(text, XMP_SCAN_BYTES))
    if image.format == "GIF":
        return xmp_text(gif_xmp(data, XMP_SCAN_BYTES))
    if image.format == "WEBP" and data[12:16] != b"VP8X":
        # A simple WebP has no place for XMP, so libwebp skips the chunk c2pa-rs puts there.
        return xmp_text(webp_chunk(data, b"XMP ", XMP_SCAN_BYTES))
    return None


def read_credentials(data: bytes, manifest_bytes: int, trust_anchors: Path | None) -> dict | None:
    """The C2PA entry for a file with a manifest marker; None if c2pa-rs finds no manifest after all."""
    if manifest_bytes > MAX_MANIFEST_BYTES:
        return unreadable(f"its manifest store is {manifest_bytes} bytes, more than the {MAX_MANIFEST_BYTES} read")
    crowded = crowded_container(data)  # c2pa-rs walks the whole container first, unbounded
    if crowded is not None:
        return unreadable(crowded)
    try:
        import c2pa  # lazily: the native library loads only for files that carry a manifest
    except ImportError:
        return unreadable("the c2pa library is not installed on this server")
    try:
        with Image.open(CappedReader(data), formats=heif.pillow_formats(data, ALLOWED_FORMATS)) as image:
            mime = MIME_TYPES.get(image.format or "")
        with c2pa.Reader(mime, io.BytesIO(data), context=_context(trust_anchors)) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return None
    except Exception as error:  # noqa: BLE001 - a hostile manifest must not fail the request
        return unreadable(_short_reason(error))
    try:
        return describe_store(store)
    except Exception as error:  # noqa: BLE001 - an unexpected store layout is unreadable, not a fault
        return unreadable(f"its manifest store has an unexpected layout ({type(error).__name__})")


def remote_manifest(xmp: str) -> dict | None:
    """An entry for a file whose XMP only points to a manifest stored elsewhere; nothing is fetched."""
    urls = [url for url in xmp_values(xmp, "provenance") if url.lower().startswith(("http://", "https://"))]
    if not urls:
        return None
    url = "".join(char for char in urls[0] if char.isprintable() and not char.isspace())[:MAX_NAME_CHARS]
    return {
        **c2pa_entry(status="unreadable", ai_generated=None, generator=None),
        "detail": f"The file points to Content Credentials stored elsewhere ({url}); this service does not fetch "
        "them, so they were not read and prove nothing here.",
    }


def _short_reason(error: Exception) -> str:
    # c2pa-rs messages name the failing check ("Verify: unexpected end of file"); never file contents.
    text = " ".join(str(error).split())[:160]
    return text or type(error).__name__


_contexts: dict[Path | None, object] = {}
_contexts_lock = threading.Lock()


def _context(trust_anchors: Path | None) -> object:
    """One c2pa Context per trust configuration, shared by every read of the process."""
    import c2pa

    with _contexts_lock:
        context = _contexts.get(trust_anchors)
        if context is None:
            # No network from a request: a remote manifest is not fetched and OCSP is not asked.
            settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
            if trust_anchors is not None:
                settings["trust"] = {"trust_anchors": trust_anchors.read_text(encoding="utf-8")}
            context = c2pa.Context.from_dict(settings)
            _contexts[trust_anchors] = context
    return context
