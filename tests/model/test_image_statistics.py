"""scripts/image_statistics.py: each statistic measures what its name says, and the report is computed, not copied."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from script_loader import load_script

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def statistics():
    return load_script("scripts/image_statistics.py")


def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)


def test_colourfulness_is_zero_for_grey_and_grows_with_saturation(statistics):
    image = noise(0)
    grey = np.repeat(image.mean(-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    assert statistics.colourfulness(grey)[0] == 0
    halfway = ((image.astype(int) + grey) // 2).astype(np.uint8)
    assert 0 < statistics.colourfulness(halfway)[0] < statistics.colourfulness(image)[0]


def test_contrast_and_fine_detail_fall_when_an_image_is_flattened_or_blurred(statistics):
    image = noise(1)
    flat = (128 + (image.astype(int) - 128) // 2).astype(np.uint8)
    assert statistics.contrast(flat)[0] < statistics.contrast(image)[0]
    blurred = np.asarray(Image.fromarray(image[0]).filter(ImageFilter.GaussianBlur(1.5)))[None]
    assert statistics.fine_detail(blurred)[0] < 0.5 * statistics.fine_detail(image)[0]
    uniform = np.full((1, 32, 32, 3), 90, np.uint8)
    assert statistics.contrast(uniform)[0] == 0 and statistics.fine_detail(uniform)[0] == 0


def test_the_report_ranks_scores_against_each_statistic(statistics):
    images = np.concatenate([noise(seed) for seed in range(6)])
    groups = {"a": images}
    colour = statistics.colourfulness(images)
    report = statistics.describe(groups, {"a": colour})  # a score that is the statistic itself
    assert report["medians"]["a"]["images"] == 6
    assert report["medians"]["a"]["colourfulness"] == pytest.approx(float(np.median(colour)), abs=0.01)
    assert report["spearman_with_p_fake"]["a"]["colourfulness"] == 1.0
    reversed_report = statistics.describe(groups, {"a": -colour})
    assert reversed_report["spearman_with_p_fake"]["a"]["colourfulness"] == -1.0
