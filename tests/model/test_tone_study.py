"""scripts/tone_study.py: each row changes what its name says, and the counts are the shipped model's."""

from __future__ import annotations

import numpy as np
import pytest
from script_loader import load_script

from imageauth.model import DEFAULT_MODEL_DIR, Detector

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def tone():
    return load_script("scripts/tone_study.py")


def textured(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(20, 200, 32)[None, :, None, None] + rng.normal(0, 25, (count, 32, 32, 3))
    return np.clip(ramp, 0, 255).astype(np.uint8)


def test_each_tone_change_moves_the_statistic_it_names(tone):
    pixels = textured(1, 0)[0]
    np.testing.assert_array_equal(tone.TRANSFORMS["none"](pixels), pixels)
    assert (
        tone.TRANSFORMS["contrast x0.7"](pixels).std() < pixels.std() < tone.TRANSFORMS["contrast x1.3"](pixels).std()
    )
    brightness = [tone.TRANSFORMS[name](pixels).mean() for name in ("brightness x0.8", "brightness x1.2")]
    assert brightness[0] < pixels.mean() < brightness[1]
    assert tone.TRANSFORMS["gamma 0.8 (lighter)"](pixels).mean() > pixels.mean()
    assert tone.TRANSFORMS["gamma 1.25 (darker)"](pixels).mean() < pixels.mean()
    gray = tone.TRANSFORMS["grayscale (saturation x0)"](pixels).astype(int)
    assert np.abs(gray - gray.mean(axis=-1, keepdims=True)).max() <= 1


def test_each_framing_change_moves_what_it_names(tone):
    pixels = textured(1, 3)[0]

    def corner_brightness(image: np.ndarray) -> float:
        return float(image.astype(float).mean(axis=-1)[[0, 0, -1, -1], [0, -1, 0, -1]].mean())

    assert (
        corner_brightness(tone.TRANSFORMS["vignette 0.6"](pixels))
        < corner_brightness(tone.TRANSFORMS["vignette 0.3 (darker corners)"](pixels))
        < corner_brightness(pixels)
        < corner_brightness(tone.TRANSFORMS["vignette -0.3 (lighter corners)"](pixels))
    )

    def detail(image: np.ndarray, region: tuple[slice, slice]) -> float:
        return float(np.abs(np.diff(image.astype(float)[region], axis=1)).mean())

    centre, border = (slice(12, 20), slice(12, 20)), (slice(0, 3), slice(None))
    soft_surround = tone.TRANSFORMS["surround blurred, sigma 2"](pixels)
    np.testing.assert_array_equal(soft_surround[centre], pixels[centre])
    assert detail(soft_surround, border) < 0.6 * detail(pixels, border)
    soft_centre = tone.TRANSFORMS["centre blurred, sigma 1"](pixels)
    np.testing.assert_array_equal(soft_centre[border], pixels[border])
    assert detail(soft_centre, centre) < 0.8 * detail(pixels, centre)


def test_the_counts_are_the_served_models_verdicts(tone):
    detector = Detector.from_dir(DEFAULT_MODEL_DIR)
    photos, images = textured(6, 1), textured(8, 2)
    labels = np.array([0, 1] * 4)
    rows = tone.study(photos, images, labels, detector)
    assert set(rows) == set(tone.TRANSFORMS)
    called = detector.predict(photos).reshape(-1) >= detector.threshold
    assert rows["none"]["photos_called_fake"] == int(called.sum())
    fake = detector.predict(images).reshape(-1) >= detector.threshold
    assert rows["none"]["validation_accuracy"] == round(float(np.mean(fake == (labels == 1))), 4)
    assert rows["none"]["fake_called_real"] == round(float(np.mean(~fake[labels == 1])), 4)
