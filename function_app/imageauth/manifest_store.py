"""What a C2PA manifest store says about its image, from the JSON c2pa-rs reports for it.

`provenance.read_credentials` has c2pa-rs read and validate the store; this
module turns that JSON into one evidence entry and touches no file. It reads
a manifest the way the Content Authenticity Initiative's own reader does
(c2pa-js `packages/c2pa/src/selectors/selectGenerativeInfo.ts`): the actions'
`digitalSourceType` (`c2pa.actions` and `c2pa.actions.v2`), Adobe's
`com.adobe.digitalSourceType` action parameter (Photoshop's generative fill
with third-party models), and Adobe's legacy `com.adobe.generative-ai`
assertion (early Firefly). An active manifest that says nothing of AI itself
but was opened from, or places, an ingredient whose own valid manifest says AI
(`parentOf`, `componentOf`) is AI-generated too: editing or compositing a
generated image does not make it a photograph. Everything echoed from a
manifest is the signer's words, clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageauth.source_types import AI_SOURCE_TYPES, CAPTURE_SOURCE_TYPES, source_type_says

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


def unreadable(reason: str) -> dict:
    """The entry for credentials that are there but could not be read: reported, deciding nothing."""
    return {
        **c2pa_entry(status="unreadable", ai_generated=None, generator=None),
        "detail": f"The file carries Content Credentials that could not be read ({reason}); they prove nothing.",
    }


def describe_store(store: dict) -> dict:
    """One evidence entry from the manifest store JSON of c2pa-rs (`Reader.json()`)."""
    manifests = store["manifests"]
    manifest = manifests[store["active_manifest"]]
    state = store.get("validation_state")
    actions = _actions(manifest)
    origin = _origin(manifest, manifests, 0, {store["active_manifest"]})
    claim_generator = _claim_generator(manifest)
    signature = manifest.get("signature_info") or {}
    entry = c2pa_entry(
        status="valid" if state in ("Valid", "Trusted") else "invalid",
        ai_generated=origin.ai_generated,
        generator=clip(origin.generator),
        trusted=state == "Trusted",
        codes=[status.get("code") for status in store.get("validation_status") or []][:MAX_CODES],
        signer=clip(signature.get("issuer") or signature.get("common_name")),
        claim_generator=clip(claim_generator),
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


def c2pa_entry(status: str, ai_generated: bool | None, generator: str | None, **fields: object) -> dict:
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
                {"action": clip(action.get("action")), "digitalSourceType": clip(source), "software_agent": agent}
            )
    return found[:MAX_ACTIONS]


def clip(value: object) -> str | None:
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
