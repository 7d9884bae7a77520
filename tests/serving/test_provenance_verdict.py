"""The verdict rules (imageauth/verdict.py): scope, unsure band, evidence order, notes, and their settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageauth.provenance import FileFacts
from imageauth.settings import Settings
from imageauth.verdict import decide, policy_for

CARD = {"threshold": 0.4}
NO_FACTS = FileFacts()
AI_CREDENTIALS = {"kind": "c2pa", "status": "valid", "ai_generated": True, "trusted": False}
INVALID_AI_CREDENTIALS = {**AI_CREDENTIALS, "status": "invalid"}
UNTRUSTED_CAPTURE = {"kind": "c2pa", "status": "valid", "ai_generated": False, "trusted": False}
TRUSTED_CAPTURE = {**UNTRUSTED_CAPTURE, "trusted": True}
AI_METADATA = {"kind": "metadata", "ai_generated": True}


def test_a_card_without_scope_or_band_falls_back():
    policy = policy_for(CARD, 32, 0.4, None, None)
    assert (policy.low, policy.high, policy.max_short_side) == (0.4, 0.4, 64)
    assert policy.scope["source"] == "default" and policy.band["source"].startswith("none")
    # Without a band the score alone decides inside the scope, at the threshold.
    assert decide(0.4, 64, 48, NO_FACTS, policy) == ("likely_ai", None)
    assert decide(0.39, 32, 32, NO_FACTS, policy) == ("likely_real", None)


def test_the_card_band_and_scope_and_their_figures_are_reported():
    card = {
        "unsure_band": {"low": 0.05, "high": 0.95, "val_accuracy_outside": 0.99, "val_share_inside": 0.05},
        "scope": {"max_short_side": 96, "why": "measured", "false_positive_rate_large_real": 0.03},
    }
    policy = policy_for(card, 32, 0.4, None, None)
    assert (policy.low, policy.high, policy.max_short_side) == (0.05, 0.95, 96)
    assert policy.band == {**card["unsure_band"], "source": "model card"}
    assert policy.scope == {**card["scope"], "source": "model card"}
    verdict, note = decide(0.5, 96, 200, NO_FACTS, policy)
    assert verdict == "unsure" and "unsure band 0.05–0.95" in note and "0.50" in note
    assert decide(0.96, 96, 96, NO_FACTS, policy) == ("likely_ai", None)
    assert decide(0.049, 96, 96, NO_FACTS, policy) == ("likely_real", None)
    # The card's definition: unsure when low <= P(fake) < high.
    assert decide(0.05, 96, 96, NO_FACTS, policy)[0] == "unsure"
    assert decide(0.95, 96, 96, NO_FACTS, policy) == ("likely_ai", None)


def test_a_card_may_widen_the_scope_to_any_size():
    card = {"scope": {"max_short_side": None, "why": "3.1% of 40 real photos called fake"}}
    policy = policy_for(card, 32, 0.4, None, None)
    assert policy.max_short_side is None and policy.scope["max_short_side"] is None
    assert decide(0.9, 4000, 3000, NO_FACTS, policy) == ("likely_ai", None)


def test_settings_override_the_band():
    card = {"unsure_band": {"low": 0.05, "high": 0.95}}
    policy = policy_for(card, 32, 0.4, 0.2, None)
    assert (policy.low, policy.high, policy.band["source"]) == (0.2, 0.95, "settings")
    with pytest.raises(ValueError, match="unsure band"):
        policy_for(card, 32, 0.4, 0.9, 0.1)


@pytest.mark.parametrize(("low", "high"), [(0.6, 0.8), (0.1, 0.3), (0.99, None)], ids=["above", "below", "low-only"])
def test_a_band_that_does_not_hold_the_threshold_is_refused(low, high):
    """Outside the band the verdict follows the score, and must agree with the label at the threshold:
    with 0.6-0.8 around 0.4, a score of 0.5 would be labelled fake and called likely_real. A low of
    0.99 alone lands above the card's high."""
    card = {"unsure_band": {"low": 0.05, "high": 0.95}}
    with pytest.raises(ValueError, match="IMAGEAUTH_UNSURE_LOW, IMAGEAUTH_UNSURE_HIGH and IMAGEAUTH_THRESHOLD"):
        policy_for(card, 32, 0.4, low, high)


def test_out_of_scope_is_unsure_whatever_the_score():
    policy = policy_for(CARD, 32, 0.4, None, None)
    for probability in (0.0, 0.5, 1.0):
        verdict, note = decide(probability, 4000, 3000, NO_FACTS, policy)
        assert verdict == "unsure"
        assert note == (
            "Judged from a 32×32 copy of the centre of a 4000×3000 image, and this model is only validated on "
            "images up to 64 px on the short side, so its score is not a verdict here."
        )


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        ([AI_CREDENTIALS], "ai_generated_by_credentials"),
        ([AI_METADATA, AI_CREDENTIALS], "ai_generated_by_credentials"),
        ([INVALID_AI_CREDENTIALS], "unsure"),
        ([UNTRUSTED_CAPTURE], "unsure"),
        ([TRUSTED_CAPTURE], "likely_real"),
        ([AI_METADATA], "likely_ai"),
        ([TRUSTED_CAPTURE, AI_METADATA], "likely_real"),
        ([{"kind": "c2pa", "status": "unreadable", "ai_generated": None}], "unsure"),
    ],
)
def test_evidence_decides_out_of_scope_in_this_order(evidence, expected):
    policy = policy_for(CARD, 32, 0.4, None, None)
    verdict, note = decide(0.99, 4000, 3000, FileFacts(evidence=evidence), policy)
    assert verdict == expected
    assert "not a verdict here" in note  # The scope rule still applied to the score.


def test_metadata_never_lowers_a_likely_ai_score_and_an_invalid_manifest_changes_nothing():
    policy = policy_for({"unsure_band": {"low": 0.1, "high": 0.9}}, 32, 0.4, None, None)
    assert decide(0.95, 32, 32, FileFacts(evidence=[AI_METADATA]), policy) == ("likely_ai", None)
    assert decide(0.02, 32, 32, FileFacts(evidence=[INVALID_AI_CREDENTIALS]), policy) == ("likely_real", None)
    # Evidence decided, so the band did not apply: no band note.
    assert decide(0.5, 32, 32, FileFacts(evidence=[AI_METADATA]), policy) == ("likely_ai", None)


def test_notes_join_into_one_sentence():
    policy = policy_for({"unsure_band": {"low": 0.1, "high": 0.9}}, 32, 0.4, None, None)
    _, note = decide(0.5, 40, 40, FileFacts(has_alpha=True, animated=True), policy)
    assert note.endswith(".") and note.count("; ") == 2
    assert note.startswith("Only the first frame") and "filled with white" in note and "unsure band" in note


def test_settings_from_the_environment(monkeypatch, tmp_path):
    anchors = tmp_path / "anchors.pem"
    anchors.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("IMAGEAUTH_UNSURE_LOW", "0.05")
    monkeypatch.setenv("IMAGEAUTH_UNSURE_HIGH", "0.95")
    monkeypatch.setenv("IMAGEAUTH_C2PA_TRUST_ANCHORS", str(anchors))
    settings = Settings.from_env()
    assert (settings.unsure_low, settings.unsure_high, settings.c2pa_trust_anchors) == (0.05, 0.95, anchors)
    monkeypatch.setenv("IMAGEAUTH_UNSURE_HIGH", "1.5")
    with pytest.raises(ValueError, match="IMAGEAUTH_UNSURE_HIGH"):
        Settings.from_env()
    monkeypatch.setenv("IMAGEAUTH_UNSURE_HIGH", "0.9")
    monkeypatch.setenv("IMAGEAUTH_C2PA_TRUST_ANCHORS", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="IMAGEAUTH_C2PA_TRUST_ANCHORS"):
        Settings.from_env()


def test_a_relative_trust_list_is_found_in_the_app_package(monkeypatch, tmp_path):
    """Deployed, the working directory is the host's: `trust/anchors.pem` must mean the package's file."""
    from imageauth import settings as settings_module

    app_root, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    (app_root / "trust").mkdir(parents=True)
    elsewhere.mkdir()
    (app_root / "trust" / "anchors.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setattr(settings_module, "APP_ROOT", app_root)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("IMAGEAUTH_C2PA_TRUST_ANCHORS", "trust/anchors.pem")
    assert Settings.from_env().c2pa_trust_anchors == app_root / "trust" / "anchors.pem"
    # A file of that name in the working directory still comes first (a local run from the repository).
    (elsewhere / "trust").mkdir()
    (elsewhere / "trust" / "anchors.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert Settings.from_env().c2pa_trust_anchors == Path("trust/anchors.pem")
