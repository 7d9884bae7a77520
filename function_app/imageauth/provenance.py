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
entry that names the reference. What a manifest says about the image is read the way the
Content Authenticity Initiative's own reader does (c2pa-js
`packages/c2pa/src/selectors/selectGenerativeInfo.ts`): the actions'
`digitalSourceType` (`c2pa.actions` and `c2pa.actions.v2`), Adobe's
`com.adobe.digitalSourceType` action parameter (Photoshop's generative fill
with third-party models), and Adobe's legacy `com.adobe.generative-ai`
assertion (early Firefly). An active manifest that says nothing of AI itself
but was opened from, or places, an ingredient whose own valid manifest says AI
(`parentOf`, `componentOf`) is AI-generated too: editing or compositing a
generated image does not make it a photograph.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from imageauth.decode_limits import CappedReader
from imageauth.generators import (
    AI_SOURCE_TYPES,
    CAPTURE_SOURCE_TYPES,
    XMP_SCAN_BYTES,
    metadata_evidence,
    source_type_says,
    xmp_text,
    xmp_values,
)
from imageauth.manifest_markers import manifest_size, webp_chunk
from imageauth.pixels import COLOUR_KEY_MODES
from imageauth.preprocess import ALLOWED_FORMATS

logger = logging.getLogger("imageauth.provenance")

# Real manifests are kilobytes to a few hundred kilobytes (a thumbnail, a few
# ingredients); 8 MiB leaves room for long edit histories and refuses the rest.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "TIFF": "image/tiff"}
MAX_ACTIONS = 20
MAX_CODES = 20
# Names from a manifest are the signer's words, echoed to the client: at most this long each.
MAX_NAME_CHARS = 200
# Ingredients are followed this deep, at most this many per manifest (each manifest once).
MAX_INGREDIENT_DEPTH = 8
MAX_INGREDIENTS = 32
# Ingredients whose pixels end up in the asset (C2PA 2.1 §18.13, "Ingredient": relationship); an
# `inputTo` ingredient (a reference image, say) contributes none.
PIXEL_RELATIONSHIPS = frozenset({"parentOf", "componentOf"})
# Modes that `pixels.to_rgb` composites on white (with a palette's or a colour key's `transparency`
# too); keep the two in step.
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})


@dataclass(frozen=True)
class FileFacts:
    """What `examine` found: evidence entries, and what the model's input lost (alpha, later frames)."""

    evidence: list[dict] = field(default_factory=list)
    has_alpha: bool = False
    animated: bool = False


def examine(data: bytes, trust_anchors: Path | None = None) -> FileFacts:
    """Evidence and input facts for one file that `preprocess.load_image` already accepted."""
    evidence: list[dict] = []
    manifest_bytes = manifest_size(data)
    if manifest_bytes is not None:
        entry = read_credentials(data, manifest_bytes, trust_anchors)
        if entry is not None:
            evidence.append(entry)
    has_alpha = animated = False
    try:
        with Image.open(CappedReader(data), formats=ALLOWED_FORMATS) as image:
            keyed = "transparency" in image.info and image.mode in ("P", *COLOUR_KEY_MODES)
            has_alpha = image.mode in ALPHA_MODES or keyed
            animated = bool(getattr(image, "is_animated", False))
            xmp = xmp_text(image.info.get("xmp"))
            if xmp is None and image.format == "WEBP" and data[12:16] != b"VP8X":
                # A simple WebP has no place for XMP, so libwebp skips the chunk c2pa-rs puts there.
                xmp = xmp_text(webp_chunk(data, b"XMP ", XMP_SCAN_BYTES))
            remote = remote_manifest(xmp) if manifest_bytes is None and xmp else None
            if remote is not None:
                evidence.append(remote)
            evidence.extend(metadata_evidence(image, xmp))
    except Exception as error:  # noqa: BLE001 - metadata is a bonus: a file the model could read keeps its score
        # Untrusted input, not a fault: one line, no traceback and nothing from the file.
        logger.info("metadata could not be read (%s)", type(error).__name__)
    return FileFacts(evidence=evidence, has_alpha=has_alpha, animated=animated)


def read_credentials(data: bytes, manifest_bytes: int, trust_anchors: Path | None) -> dict | None:
    """The C2PA entry for a file with a manifest marker; None if c2pa-rs finds no manifest after all."""
    if manifest_bytes > MAX_MANIFEST_BYTES:
        return unreadable(f"its manifest store is {manifest_bytes} bytes, more than the {MAX_MANIFEST_BYTES} read")
    try:
        import c2pa  # lazily: the native library loads only for files that carry a manifest
    except ImportError:
        return unreadable("the c2pa library is not installed on this server")
    try:
        with Image.open(CappedReader(data), formats=ALLOWED_FORMATS) as image:
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
        **_c2pa_entry(status="unreadable", ai_generated=None, generator=None),
        "detail": f"The file points to Content Credentials stored elsewhere ({url}); this service does not fetch "
        "them, so they were not read and prove nothing here.",
    }


def unreadable(reason: str) -> dict:
    return {
        **_c2pa_entry(status="unreadable", ai_generated=None, generator=None),
        "detail": f"The file carries Content Credentials that could not be read ({reason}); they prove nothing.",
    }


def _short_reason(error: Exception) -> str:
    # c2pa-rs messages name the failing check ("Verify: unexpected end of file"); never file contents.
    text = " ".join(str(error).split())[:160]
    return text or type(error).__name__


def describe_store(store: dict) -> dict:
    """One evidence entry from the manifest store JSON of c2pa-rs (`Reader.json()`)."""
    manifests = store["manifests"]
    manifest = manifests[store["active_manifest"]]
    state = store.get("validation_state")
    actions = _actions(manifest)
    origin = _origin(manifest, manifests, 0, {store["active_manifest"]})
    claim_generator = _claim_generator(manifest)
    signature = manifest.get("signature_info") or {}
    entry = _c2pa_entry(
        status="valid" if state in ("Valid", "Trusted") else "invalid",
        ai_generated=origin.ai_generated,
        generator=_clip(origin.generator),
        trusted=state == "Trusted",
        codes=[status.get("code") for status in store.get("validation_status") or []][:MAX_CODES],
        signer=_clip(signature.get("issuer") or signature.get("common_name")),
        claim_generator=_clip(claim_generator),
        actions=[{"action": a["action"], "digitalSourceType": a["digitalSourceType"]} for a in actions],
        source_type=origin.source_type,
        ingredient=origin.ingredient,
    )
    entry["detail"] = _credentials_detail(entry, origin)
    return entry


@dataclass(frozen=True)
class Origin:
    """What a manifest says about how its asset was made, its ingredients' manifests included."""

    ai_generated: bool | None
    generator: str | None = None
    # The IPTC source type that decided (`AI_SOURCE_TYPES`; "trainedAlgorithmicMedia" for Adobe's
    # legacy assertion): a composite is AI content combined with other material, not a generated image.
    source_type: str | None = None
    ingredient: str | None = None  # the relationship of the ingredient that said AI, when one did


def _origin(manifest: dict, manifests: dict, depth: int, seen: set) -> Origin:
    own = _own_origin(manifest)
    if own.ai_generated or depth >= MAX_INGREDIENT_DEPTH:
        return own
    for ingredient in (manifest.get("ingredients") or [])[:MAX_INGREDIENTS]:
        if not isinstance(ingredient, dict) or ingredient.get("relationship") not in PIXEL_RELATIONSHIPS:
            continue
        label = ingredient.get("active_manifest")
        child = manifests.get(label) if isinstance(label, str) and label not in seen else None
        if not isinstance(child, dict) or not _ingredient_validates(ingredient):
            continue
        seen.add(label)
        found = _origin(child, manifests, depth + 1, seen)
        if found.ai_generated:
            relationship = ingredient["relationship"]
            placed = relationship == "componentOf" and found.source_type != "algorithmicMedia"
            source_type = "compositeWithTrainedAlgorithmicMedia" if placed else found.source_type
            return Origin(True, found.generator, source_type, relationship)
    return own


def _own_origin(manifest: dict) -> Origin:
    actions = _actions(manifest)
    source_types = {action["digitalSourceType"] for action in actions if action["digitalSourceType"]}
    legacy = _legacy_generative_ai(manifest)
    if source_types & AI_SOURCE_TYPES or legacy:
        agents = [a["software_agent"] for a in actions if a["digitalSourceType"] in AI_SOURCE_TYPES] + [legacy]
        # The strongest claim decides the words: generated, then composite, then purely algorithmic.
        ranked = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia")
        source_type = "trainedAlgorithmicMedia" if legacy else next(t for t in ranked if t in source_types)
        generator = next((agent for agent in agents if agent), None) or _claim_generator(manifest)
        return Origin(True, generator, source_type)
    return Origin(False if source_types & CAPTURE_SOURCE_TYPES else None)


def _ingredient_validates(ingredient: dict) -> bool:
    """Whether the ingredient's manifest validated when it was added (its signer's trust aside)."""
    results = ingredient.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    failures = list(active.get("failure") or []) if isinstance(active, dict) else []
    failures += list(ingredient.get("validation_status") or [])  # c2pa-rs before validation_results
    codes = {str(status.get("code")) if isinstance(status, dict) else "" for status in failures}
    return codes <= {"signingCredential.untrusted"}


def _legacy_generative_ai(manifest: dict) -> str | None:
    """Adobe's pre-digitalSourceType assertion `com.adobe.generative-ai` (description and version), if any."""
    for assertion in manifest.get("assertions") or []:
        if isinstance(assertion, dict) and assertion.get("label") == "com.adobe.generative-ai":
            data = assertion.get("data") if isinstance(assertion.get("data"), dict) else {}
            name = " ".join(str(data[key]).strip() for key in ("description", "version") if data.get(key))
            return name or "Adobe generative AI"
    return None


def _c2pa_entry(status: str, ai_generated: bool | None, generator: str | None, **fields: object) -> dict:
    entry = {"kind": "c2pa", "ai_generated": ai_generated, "generator": generator, "detail": "", "status": status}
    defaults = {
        "trusted": False,
        "codes": [],
        "signer": None,
        "claim_generator": None,
        "actions": [],
        "source_type": None,
        "ingredient": None,
    }
    return {**entry, **defaults, **fields}


def _actions(manifest: dict) -> list[dict]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            # Adobe puts a third-party model's source type and name in the action's parameters.
            parameters = action.get("parameters") if isinstance(action.get("parameters"), dict) else {}
            agent = action.get("softwareAgent") or parameters.get("com.adobe.details")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            source_uri = action.get("digitalSourceType") or parameters.get("com.adobe.digitalSourceType")
            source = str(source_uri or "").rstrip("/").rsplit("/", 1)[-1] or None
            found.append(
                {"action": _clip(action.get("action")), "digitalSourceType": _clip(source), "software_agent": agent}
            )
    return found[:MAX_ACTIONS]


def _clip(value: object) -> str | None:
    return None if value is None else str(value)[:MAX_NAME_CHARS]


def _claim_generator(manifest: dict) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if info and isinstance(info[0], dict) and info[0].get("name"):
        return " ".join(str(part) for part in (info[0]["name"], info[0].get("version")) if part)
    return manifest.get("claim_generator")


def _credentials_detail(entry: dict, origin: Origin) -> str:
    signer = entry["signer"] or "an unnamed signer"
    trust = "" if entry["trusted"] else " The signer is not on this service's trust list, so who signed is unverified."
    if entry["status"] != "valid":
        codes = ", ".join(code for code in entry["codes"] if code) or "no code"
        return (
            f"Content Credentials signed by {signer} are present but do not validate ({codes}): the file was "
            "changed after signing or the signature is broken, so they prove nothing."
        )
    if entry["ai_generated"]:
        made_by = f" ({entry['generator']})" if entry["generator"] else ""
        if origin.ingredient:
            what = {
                "compositeWithTrainedAlgorithmicMedia": "AI-generated content",
                "algorithmicMedia": "an image generated by an algorithm",
            }.get(origin.source_type or "", "an image made with an AI generator")
            says = (
                f"this image was edited from {what}{made_by}, as that image's own Content Credentials say"
                if origin.ingredient == "parentOf"
                else f"this image includes {what}{made_by}, as that content's own Content Credentials say"
            )
        else:
            says = f"this image {source_type_says(origin.source_type or '', made_by)}"
        return f"Content Credentials signed by {signer} say {says}.{trust}"
    if entry["ai_generated"] is False:
        return f"Content Credentials signed by {signer} say this image was captured by a camera or scanner.{trust}"
    return f"Content Credentials signed by {signer} are valid but do not say how the image was made.{trust}"


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
