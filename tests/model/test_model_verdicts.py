"""The shipped model's verdicts, end to end through `predict_bytes`: scope, unsure band, real photos.

Issue 13's promise is about what a user is told, not about the score: a large
real photo without evidence is never "likely AI" from the score alone, and a
score inside the card's unsure band is "unsure". These run on what any CI has:
the camera photos that scikit-learn and matplotlib ship, the committed CIFAKE
sample, and (on the development machines) the full real-photo set of the
`real_photos` stage when it has been collected.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.cbook
import pytest
import sklearn.datasets

from imageauth.model import DEFAULT_MODEL_DIR
from imageauth.predict import predict_bytes

pytestmark = pytest.mark.model

REPO_ROOT = Path(__file__).resolve().parents[2]
CARD = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
SAMPLE_DIR = REPO_ROOT / "tests" / "data" / "cifake_sample"
COLLECTED_PHOTOS = REPO_ROOT / "data" / "real_photos"


def packaged_photos() -> list[Path]:
    """Camera photographs larger than 256 px that the test environment's packages ship."""
    images = Path(sklearn.datasets.__file__).parent / "images"
    hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return [images / "china.jpg", images / "flower.jpg", hopper]


def collected_photos() -> list[Path]:
    manifest = COLLECTED_PHOTOS / "manifest.json"
    if not manifest.exists():
        return []
    return [COLLECTED_PHOTOS / entry["file"] for entry in json.loads(manifest.read_text())]


def test_card_states_a_scope_and_a_band_that_follow_the_rules():
    scope, band = CARD["scope"], CARD["unsure_band"]
    measured = scope["real_photos"]["share_called_fake"]
    # Wider than twice the input only with at most 5 % of large real photos called fake.
    assert scope["max_short_side"] == (None if measured <= 0.05 else 2 * CARD["image_size"])
    assert band["low"] <= CARD["threshold"] <= band["high"]
    assert band["val_accuracy_outside"] >= 0.99 or band["val_share_inside"] == 1.0


@pytest.mark.parametrize("path", packaged_photos() + collected_photos(), ids=lambda path: path.name)
def test_a_large_real_photo_is_never_likely_ai_from_the_score(path: Path):
    result = predict_bytes(path.read_bytes(), path.name)
    assert min(result["width"], result["height"]) > 256
    ai_evidence = [entry for entry in result["evidence"] if entry.get("ai_generated")]
    if not ai_evidence:
        assert result["verdict"] != "likely_ai", result
        if CARD["scope"]["max_short_side"] is not None:
            assert result["verdict"] == "unsure" and result["note"]


def test_cifake_sample_verdicts_follow_the_band():
    """32 px images are in scope: outside the band the score decides, inside it the answer is unsure."""
    band = CARD["unsure_band"]
    verdicts = []
    for path in sorted(SAMPLE_DIR.glob("*/*.jpg")):
        result = predict_bytes(path.read_bytes(), path.name)
        probability = result["probability_fake"]
        if band["low"] <= probability < band["high"]:
            expected = "unsure"
        else:
            expected = "likely_ai" if probability >= band["high"] else "likely_real"
        assert result["verdict"] == expected, (path.name, probability, band)
        verdicts.append(result["verdict"])
    assert len(verdicts) == 48 and set(verdicts) <= {"likely_ai", "likely_real", "unsure"}
