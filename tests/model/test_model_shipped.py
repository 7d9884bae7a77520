"""Behavioural tests of the shipped model (`function_app/model/`): the "model" tier.

They need only LiteRT and the repository. The files behind
`reference_predictions.json` (the CIFAKE dev-test images that the export stage
scored with Keras and with the shipped model) are committed in
`tests/data/cifake_sample/` (MIT-licensed; its README gives the attribution)
and matched to the reference entries by SHA-256, so these tests run in any CI.
Every expectation comes from the model card and the reference predictions that
the export wrote with the model, so a re-exported model is tested against its
own numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imageauth.model import DEFAULT_MODEL_DIR, Detector
from imageauth.preprocess import load_image

pytestmark = pytest.mark.model

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "tests" / "data" / "cifake_sample"
CARD = json.loads((DEFAULT_MODEL_DIR / "model.json").read_text())
REFERENCE = json.loads((DEFAULT_MODEL_DIR / "reference_predictions.json").read_text())
# A requirement, not a measurement: re-encoding as JPEG quality 95 changes 32x32 pixels by a few
# levels, which may move an image that sits at the threshold, but hardly any other.
JPEG_STABLE_RATE = 0.95


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector.from_dir(DEFAULT_MODEL_DIR)


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    """The reference items with the bytes of their committed files."""
    files = {_sha256(path.read_bytes()): path.read_bytes() for path in SAMPLE_DIR.glob("*/*.jpg")}
    missing = [item["path"] for item in REFERENCE if item["sha256"] not in files]
    assert not missing, f"not in {SAMPLE_DIR} (regenerate it as its README says): {missing}"
    return [{**item, "bytes": files[item["sha256"]]} for item in REFERENCE]


def test_card_describes_the_bundled_file():
    model_bytes = (DEFAULT_MODEL_DIR / "model.tflite").read_bytes()
    assert CARD["version"] == hashlib.sha256(model_bytes).hexdigest()[:12]
    assert len(model_bytes) == CARD["metrics"]["size_bytes"] <= 16 * 1024 * 1024
    assert 0.0 < CARD["threshold"] < 1.0
    assert CARD["labels"] == ["real", "fake"] and CARD["image_size"] == 32
    assert CARD["limitations"] and CARD["dataset"]["counts"]["test"]


def test_an_image_and_its_mirror_image_get_what_the_card_promises(detector):
    """With flip averaging in the graph both views go through the same weights: one probability for both."""
    images = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(images[:, :, ::-1])
    assert not np.array_equal(images, mirrored)
    if CARD["flip_average"]["enabled"]:
        np.testing.assert_allclose(detector.predict(images), detector.predict(mirrored), atol=1e-6)
    else:
        assert not np.allclose(detector.predict(images), detector.predict(mirrored), atol=1e-6)


def test_the_committed_sample_is_the_reference_sample():
    """Every reference entry has its file, every file its entry, and the manifest says where each came from."""
    with open(SAMPLE_DIR / "manifest.csv", newline="") as handle:
        manifest = {row["file"]: row for row in csv.DictReader(handle)}
    files = {path.relative_to(SAMPLE_DIR).as_posix(): _sha256(path.read_bytes()) for path in SAMPLE_DIR.glob("*/*.jpg")}
    assert files == {name: row["sha256"] for name, row in manifest.items()}
    assert {item["sha256"] for item in REFERENCE} == set(files.values())
    labels = {item["sha256"]: CARD["labels"][item["label"]] for item in REFERENCE}
    assert all(labels[row["sha256"]] == row["label"] for row in manifest.values())
    # The export's rule: the same number of files per class.
    counts = [sum(item["label"] == label for item in REFERENCE) for label in (0, 1)]
    assert counts[0] == counts[1] >= 20


def test_litert_reproduces_the_export_and_agrees_with_keras(sample, detector):
    # The largest Keras-vs-shipped difference the export measured over the whole test split bounds the sample's.
    tolerance = CARD["metrics"]["max_abs_diff_vs_keras"] + 1e-6  # the reference rounds Keras to 6 decimals
    for item in sample:
        probability = float(detector.predict(load_image(item["bytes"], 32).pixels)[0])
        assert probability == pytest.approx(item["model_probability_fake"], abs=1e-6), item["path"]
        assert abs(probability - item["keras_probability_fake"]) <= tolerance, item["path"]


def test_sample_verdicts_and_accuracy_are_the_exports(sample, detector):
    pixels = np.stack([load_image(item["bytes"], 32).pixels for item in sample])
    predicted = detector.predict(pixels) >= detector.threshold
    exported = np.array([item["model_probability_fake"] for item in sample]) >= CARD["threshold"]
    np.testing.assert_array_equal(predicted, exported)
    labels = np.array([item["label"] for item in sample]) == 1
    # The card's test accuracy, less three binomial standard errors for a sample this small.
    accuracy = CARD["metrics"]["accuracy"]
    floor = accuracy - 3 * math.sqrt(accuracy * (1 - accuracy) / len(sample))
    assert (predicted == labels).mean() >= floor


def _reencode(pixels: np.ndarray, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def test_verdict_is_invariant_to_lossless_reencoding(sample, detector):
    for item in sample:
        pixels = load_image(item["bytes"], 32).pixels
        as_png = load_image(_reencode(pixels, "PNG"), 32).pixels
        as_bmp = load_image(_reencode(pixels, "BMP"), 32).pixels
        probabilities = detector.predict(np.stack([pixels, as_png, as_bmp]))
        assert probabilities[0] == probabilities[1] == probabilities[2], item["path"]


def test_verdict_is_mostly_stable_under_jpeg_quality_95(sample, detector):
    original = np.stack([load_image(item["bytes"], 32).pixels for item in sample])
    recompressed = np.stack([load_image(_reencode(pixels, "JPEG", quality=95), 32).pixels for pixels in original])
    threshold = detector.threshold
    same = (detector.predict(original) >= threshold) == (detector.predict(recompressed) >= threshold)
    assert same.mean() >= JPEG_STABLE_RATE


def test_cli_and_api_give_the_probability_the_export_reported(sample, tmp_path):
    """`imageauth predict` and `POST /api/predict` on the original files, against the export's numbers."""
    from fastapi.testclient import TestClient

    from imageauth.api import create_app
    from imageauth.cli import main as cli_main

    chosen = sample[:: max(1, len(sample) // 8)]
    for index, item in enumerate(chosen):
        (tmp_path / f"{index:02d}.jpg").write_bytes(item["bytes"])
    output = io.StringIO()
    assert cli_main(["predict", str(tmp_path), "--format", "json", "--no-progress"], out=output) == 0
    cli_results = json.loads(output.getvalue())["results"]
    with TestClient(create_app()) as client:
        files = [("file", (f"{i:02d}.jpg", item["bytes"], "image/jpeg")) for i, item in enumerate(chosen)]
        api_results = client.post("/api/predict", files=files).json()["results"]
    cli_by_name = {Path(result["filename"]).name: result for result in cli_results}
    for index, (item, api_result) in enumerate(zip(chosen, api_results, strict=True)):
        expected = item["model_probability_fake"]
        assert api_result["probability_fake"] == pytest.approx(expected, abs=1e-6)
        assert cli_by_name[f"{index:02d}.jpg"]["probability_fake"] == pytest.approx(expected, abs=1e-6)
