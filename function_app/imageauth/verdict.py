"""The verdict: the model's score, its unsure band and validated scope, and the file's own evidence, in one word.

`label` and `probability_fake` say what the model computed; `verdict` says
what this service is prepared to claim, in this order:

1. A valid C2PA manifest whose actions declare an AI source type:
   `ai_generated_by_credentials`. An invalid or unreadable one changes nothing.
2. A valid manifest from a trusted signer (a trust list is configured) that
   declares a capture and nothing of AI: `likely_real`. Without a trust list
   anyone can sign such a claim, so it is reported but decides nothing.
3. Unsigned generator metadata: `likely_ai`, never more.
4. The model, only inside its validated scope (short side at most
   `max_short_side`; null: any size) and outside its unsure band: `likely_ai`
   from `high` up, `likely_real` below `low`, `unsure` for low <= p < high (the
   card's definition). Outside the scope: `unsure`.

The scope and the band come from the model card (`scope`, `unsure_band`,
written by the evaluate stage); a card without them falls back to twice the
input size and no band. `IMAGEAUTH_UNSURE_LOW` / `IMAGEAUTH_UNSURE_HIGH`
override the band. `note` is one sentence on what the model saw whenever the
scope rule or the band applied, or the image lost alpha or frames on the way in.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageauth.provenance import FileFacts

VERDICTS = ("ai_generated_by_credentials", "likely_ai", "unsure", "likely_real")


@dataclass(frozen=True)
class Policy:
    """The band and scope in effect for one model and one set of settings."""

    threshold: float
    low: float
    high: float
    image_size: int
    max_short_side: int | None  # None: the card measured that any size is in scope
    band: dict  # what /api/model reports: the card's figures plus the values and their source
    scope: dict


def policy_for(card: dict, image_size: int, threshold: float, low: float | None, high: float | None) -> Policy:
    """The policy from a model card, with the settings' band overrides (`low`, `high`; None keeps the card's)."""
    card_band = card.get("unsure_band") if isinstance(card.get("unsure_band"), dict) else None
    card_low = float(card_band["low"]) if card_band else threshold
    card_high = float(card_band["high"]) if card_band else threshold
    band_low = card_low if low is None else low
    band_high = card_high if high is None else high
    # The band is around the threshold: outside it, the verdict must agree with the label.
    if not 0.0 <= band_low <= threshold <= band_high <= 1.0:
        raise ValueError(
            f"the unsure band must satisfy 0 <= low <= threshold <= high <= 1, got {band_low}..{band_high} around "
            f"the threshold {threshold} (IMAGEAUTH_UNSURE_LOW, IMAGEAUTH_UNSURE_HIGH and IMAGEAUTH_THRESHOLD "
            "override the model card's)"
        )
    if low is not None or high is not None:
        band_source = "settings"
    else:
        band_source = "model card" if card_band else "none: the card states no band, so low = high = threshold"
    card_scope = card.get("scope") if isinstance(card.get("scope"), dict) else None
    if card_scope and "max_short_side" in card_scope:
        raw = card_scope["max_short_side"]
        max_short_side = None if raw is None else int(raw)
        scope = {**card_scope, "max_short_side": max_short_side, "source": "model card"}
    else:
        max_short_side = 2 * image_size
        why = "the model card states no scope; the default is twice the model's input size"
        scope = {"max_short_side": max_short_side, "why": why, "source": "default"}
    band = {**(card_band or {}), "low": band_low, "high": band_high, "source": band_source}
    return Policy(threshold, band_low, band_high, image_size, max_short_side, band, scope)


def decide(probability: float, width: int, height: int, facts: FileFacts, policy: Policy) -> tuple[str, str | None]:
    """(`verdict`, `note`) for one image."""
    in_scope = policy.max_short_side is None or min(width, height) <= policy.max_short_side
    in_band = in_scope and policy.low <= probability < policy.high
    evidence_verdict = _from_evidence(facts.evidence)
    if evidence_verdict is not None:
        verdict = evidence_verdict
    elif not in_scope or in_band:
        verdict = "unsure"
    else:
        verdict = "likely_ai" if probability >= policy.high else "likely_real"
    # The band only applied when the score was what decided.
    note = _note(probability, width, height, facts, policy, in_scope, in_band and evidence_verdict is None)
    return verdict, note


def _from_evidence(evidence: list[dict]) -> str | None:
    credentials = [e for e in evidence if e.get("kind") == "c2pa" and e.get("status") == "valid"]
    if any(e.get("ai_generated") is True for e in credentials):
        return "ai_generated_by_credentials"
    if any(e.get("ai_generated") is False and e.get("trusted") for e in credentials):
        return "likely_real"
    if any(e.get("kind") == "metadata" and e.get("ai_generated") is True for e in evidence):
        return "likely_ai"
    return None


def _note(
    probability: float, width: int, height: int, facts: FileFacts, policy: Policy, in_scope: bool, in_band: bool
) -> str | None:
    size = policy.image_size
    parts = []
    if facts.animated:
        parts.append("only the first frame of this animated image was judged")
    if facts.heif_images > 1:
        parts.append(f"this file holds {facts.heif_images} images, and only its primary image was judged")
    if facts.has_alpha:
        parts.append("its transparent areas were filled with white before judging")
    if not in_scope:
        parts.append(
            f"judged from a {size}×{size} copy of the centre of a {width}×{height} image, and this model is "
            f"only validated on images up to {policy.max_short_side} px on the short side, so its score is not "
            "a verdict here"
        )
    if in_band:
        parts.append(
            f"the score {probability:.2f} is inside the unsure band {policy.low:.2f}–{policy.high:.2f}, "
            "where this model is wrong too often to call it"
        )
    if not parts:
        return None
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."
