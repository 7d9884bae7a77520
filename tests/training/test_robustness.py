"""The evaluate stage's perturbations are fixed and do what their names say; the table's figures are right."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imageauth.preprocess import load_image
from training.robustness import PERTURBATIONS, gaussian_noise, real_photo_rate, robustness_table


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Smooth gradients plus texture: natural enough that every perturbation has something to change."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(40, 215, 32)
    base = (ramp[None, :, None] + ramp[:, None, None]) / 2
    texture = rng.normal(0, 25, (24, 32, 32, 3))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def high_frequency_energy(batch: np.ndarray) -> float:
    """Mean squared difference between horizontal and vertical neighbours."""
    values = batch.astype(np.float64)
    return float(np.mean(np.diff(values, axis=1) ** 2) + np.mean(np.diff(values, axis=2) ** 2))


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbation_is_deterministic_keeps_shape_and_changes_pixels(name: str, images: np.ndarray) -> None:
    original = images.copy()
    first, second = PERTURBATIONS[name](images), PERTURBATIONS[name](images)
    assert first.shape == images.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(images, original)  # The input batch is not modified in place.
    changed = np.mean(first != images)
    assert changed > 0.2, f"{name} changed only {changed:.0%} of the values"
    # A perturbation, not a different picture: the mean error stays well below the picture's contrast.
    assert np.mean(np.abs(first.astype(int) - images)) < 30


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbation_leaves_a_flat_image_nearly_flat(name: str) -> None:
    flat = np.full((2, 32, 32, 3), 128, np.uint8)
    tolerance = 12 if name.startswith("noise") else 1
    assert np.max(np.abs(PERTURBATIONS[name](flat).astype(int) - 128)) <= tolerance


def test_blur_removes_high_frequencies_in_order_of_sigma(images: np.ndarray) -> None:
    energy = [
        high_frequency_energy(batch)
        for batch in (images, PERTURBATIONS["blur_0.5"](images), PERTURBATIONS["blur_1.0"](images))
    ]
    assert energy[0] > 1.5 * energy[1] > 1.5 * energy[2]


def test_noise_has_the_stated_sigma_and_depends_on_the_seed() -> None:
    grey = np.full((50, 32, 32, 3), 128, np.uint8)
    noisy = PERTURBATIONS["noise_3"](grey).astype(np.float64) - 128
    assert abs(noisy.mean()) < 0.1
    assert 2.8 < noisy.std() < 3.2
    assert not np.array_equal(gaussian_noise(grey, 3.0, seed=1), gaussian_noise(grey, 3.0, seed=2))


def test_thumbnail_is_what_serving_makes_of_an_upscaled_copy(images: np.ndarray) -> None:
    upscaled = Image.fromarray(images[0]).resize((256, 256), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    upscaled.save(buffer, format="PNG")
    served = load_image(buffer.getvalue(), 32).pixels
    np.testing.assert_array_equal(PERTURBATIONS["thumbnail_256"](images[:1])[0], served)


def test_stronger_jpeg_compression_loses_more(images: np.ndarray) -> None:
    error = {q: np.mean(np.abs(PERTURBATIONS[f"jpeg_q{q}"](images).astype(int) - images)) for q in (90, 75, 50)}
    assert error[90] < error[75] < error[50]


def brightness(batch: np.ndarray) -> np.ndarray:
    """A toy detector: P(fake) is the mean brightness."""
    return np.asarray(batch, dtype=np.float64).mean(axis=(1, 2, 3)) / 255


def test_table_figures_match_a_hand_computation() -> None:
    levels = [20, 100, 140, 200, 90, 160]  # Mean brightness of each image.
    labels = np.array([0, 0, 0, 1, 1, 1])  # 1 is fake.
    images = np.stack([np.full((32, 32, 3), level, np.uint8) for level in levels])
    darken = {"darken": lambda batch: (batch // 2).astype(np.uint8)}
    rows = robustness_table(images, labels, brightness, threshold=0.5, perturbations=darken)
    clean, darkened = rows
    # Clean verdicts (>= 127.5 is fake): real, real, FAKE | fake, REAL, fake -> 4 of 6 right.
    assert clean == pytest.approx(
        {
            "condition": "clean",
            "accuracy": 4 / 6,
            "roc_auc": 7 / 9,
            "false_positive_rate": 1 / 3,
            "false_negative_rate": 1 / 3,
            "flipped_vs_clean": 0.0,
        }
    )
    # Darkened, everything is called real: 3 of 6 right; the three fake verdicts flipped.
    assert darkened == pytest.approx(
        {
            "condition": "darken",
            "accuracy": 0.5,
            "roc_auc": 7 / 9,
            "false_positive_rate": 0.0,
            "false_negative_rate": 1.0,
            "flipped_vs_clean": 0.5,
        }
    )


def test_table_has_one_row_per_condition_and_reuses_clean_probabilities(images: np.ndarray) -> None:
    labels = np.arange(len(images)) % 2
    calls: list[int] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return brightness(batch)

    rows = robustness_table(images, labels, predict, 0.5, clean_probability=brightness(images))
    assert [row["condition"] for row in rows] == ["clean", *PERTURBATIONS]
    assert len(calls) == len(PERTURBATIONS)  # The clean images were not predicted again.
    flipped = {row["condition"]: row["flipped_vs_clean"] for row in rows}
    assert flipped["clean"] == 0.0
    assert all(0.0 <= value <= 1.0 for value in flipped.values())


def test_invariant_perturbation_flips_nothing(images: np.ndarray) -> None:
    mirror = {"mirror": lambda batch: batch[:, :, ::-1].copy()}
    rows = robustness_table(images, np.arange(len(images)) % 2, brightness, 0.5, perturbations=mirror)
    assert rows[1]["flipped_vs_clean"] == 0.0
    assert rows[1]["accuracy"] == rows[0]["accuracy"]


def test_real_photo_rate_goes_through_load_image(tmp_path: Path) -> None:
    photos = [("dark.jpg", 30, (400, 300)), ("light.png", 220, (300, 500)), ("mid.png", 200, (640, 480))]
    for name, level, size in photos:
        Image.new("RGB", size, (level,) * 3).save(tmp_path / name)
    (tmp_path / "manifest.json").write_text("[]")
    seen: list[tuple[int, ...]] = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return brightness(batch)

    result = real_photo_rate(tmp_path, predict, threshold=0.5, image_size=32)
    assert seen == [(3, 32, 32, 3)]
    assert result["count"] == 3 and result["called_fake"] == 2
    assert result["share_called_fake"] == pytest.approx(2 / 3)
    assert set(result["probabilities"]) == {"dark.jpg", "light.png", "mid.png"}
    assert result["probabilities"]["dark.jpg"] == pytest.approx(30 / 255, abs=0.01)


def test_real_photo_rate_refuses_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        real_photo_rate(tmp_path, brightness, 0.5, 32)
