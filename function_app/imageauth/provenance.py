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
from imageauth.generators import AI_SOURCE_TYPES, CAPTURE_SOURCE_TYPES, metadata_evidence
from imageauth.manifest_markers import manifest_size
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
# Modes that `pixels.to_rgb` composites on white; keep the two in step.
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
            has_alpha = image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)
            animated = bool(getattr(image, "is_animated", False))
            evidence.extend(metadata_evidence(image))
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
    manifest = store["manifests"][store["active_manifest"]]
    state = store.get("validation_state")
    actions = _actions(manifest)
    source_types = {action["digitalSourceType"] for action in actions if action["digitalSourceType"]}
    ai_generated = True if source_types & AI_SOURCE_TYPES else False if source_types & CAPTURE_SOURCE_TYPES else None
    claim_generator = _claim_generator(manifest)
    ai_agents = [a["software_agent"] for a in actions if a["digitalSourceType"] in AI_SOURCE_TYPES]
    generator = next((agent for agent in ai_agents if agent), None) or (claim_generator if ai_generated else None)
    signature = manifest.get("signature_info") or {}
    entry = _c2pa_entry(
        status="valid" if state in ("Valid", "Trusted") else "invalid",
        ai_generated=ai_generated,
        generator=_clip(generator),
        trusted=state == "Trusted",
        codes=[status.get("code") for status in store.get("validation_status") or []][:MAX_CODES],
        signer=_clip(signature.get("issuer") or signature.get("common_name")),
        claim_generator=_clip(claim_generator),
        actions=[{"action": a["action"], "digitalSourceType": a["digitalSourceType"]} for a in actions],
    )
    entry["detail"] = _credentials_detail(entry)
    return entry


def _c2pa_entry(status: str, ai_generated: bool | None, generator: str | None, **fields: object) -> dict:
    entry = {"kind": "c2pa", "ai_generated": ai_generated, "generator": generator, "detail": "", "status": status}
    defaults = {"trusted": False, "codes": [], "signer": None, "claim_generator": None, "actions": []}
    return {**entry, **defaults, **fields}


def _actions(manifest: dict) -> list[dict]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            source = str(action.get("digitalSourceType") or "").rstrip("/").rsplit("/", 1)[-1] or None
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


def _credentials_detail(entry: dict) -> str:
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
        return f"Content Credentials signed by {signer} say this image was made with an AI generator{made_by}.{trust}"
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
