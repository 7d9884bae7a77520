"""Training-time degradations (`training.augment`): seeded, shape-keeping, label-blind, and each one real."""

from __future__ import annotations

import numpy as np
import pytest

from training.augment import augment_batch, degrade, shift_and_flip

# Every step at probability 1, one at a time: each must change the pixels it is given.
STEPS = {
    "resize": {"p": 1.0, "sizes": [12, 31]},
    "thumbnail": {"p": 1.0, "size": 256},
    "blur": {"p": 1.0, "sigma": [0.2, 1.2]},
    "sharpen": {"p": 1.0, "amount": [0.3, 1.5], "sigma": [0.6, 1.2]},
    "noise": {"p": 1.0, "sigma": [0.5, 4.0]},
    "jpeg": {"p": 1.0, "quality": [30, 95]},
}
RECIPE = {"flip": True, "translate": 4, **{name: {**step, "p": 0.5} for name, step in STEPS.items()}}


def images(count: int = 16, seed: int = 0) -> np.ndarray:
    """Textured images (smooth gradients plus noise), like photographs more than like pure noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 180, 32)[None, :, None, None] + np.linspace(0, 60, 32)[None, None, :, None]
    return np.clip(ramp + rng.normal(0, 20, (count, 32, 32, 3)), 0, 255).astype(np.uint8)


def test_the_same_seed_gives_the_same_batch_and_another_seed_another():
    batch = images()
    first = augment_batch(batch, np.random.default_rng([7, 1]), RECIPE)
    again = augment_batch(batch, np.random.default_rng([7, 1]), RECIPE)
    other = augment_batch(batch, np.random.default_rng([7, 2]), RECIPE)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_shape_and_dtype_are_kept():
    batch = images()
    augmented = augment_batch(batch, np.random.default_rng(1), RECIPE)
    assert augmented.shape == batch.shape and augmented.dtype == np.uint8
    for name, step in STEPS.items():
        single = degrade(batch[0], np.random.default_rng(2), {name: step})
        assert single.shape == (32, 32, 3) and single.dtype == np.uint8, name


@pytest.mark.parametrize("name", sorted(STEPS))
def test_each_step_changes_every_image_at_probability_one_and_none_at_zero(name):
    batch = images(8)
    for index, image in enumerate(batch):
        changed = degrade(image, np.random.default_rng([3, index]), {name: STEPS[name]})
        assert not np.array_equal(changed, image), (name, index)
        unchanged = degrade(image, np.random.default_rng([3, index]), {name: {**STEPS[name], "p": 0.0}})
        np.testing.assert_array_equal(unchanged, image)


def test_blur_softens_and_sharpening_sharpens():
    """The steps do what their names say (measured as the mean absolute difference of neighbours)."""

    def detail(pixels: np.ndarray) -> float:
        return float(np.abs(np.diff(pixels.astype(np.float32), axis=1)).mean())

    image = images(1)[0]
    blurred = degrade(image, np.random.default_rng(4), {"blur": STEPS["blur"]})
    sharpened = degrade(image, np.random.default_rng(4), {"sharpen": STEPS["sharpen"]})
    assert detail(blurred) < detail(image) < detail(sharpened)


def test_both_classes_are_degraded_alike():
    """The recipe never looks at labels: a real and a fake image with the same pixels and draws end up equal."""
    batch = images(8)
    labels = np.arange(8) % 2
    augmented = augment_batch(batch, np.random.default_rng(5), {name: step for name, step in STEPS.items()})
    for label in (0, 1):
        chosen = labels == label
        assert all(not np.array_equal(a, b) for a, b in zip(augmented[chosen], batch[chosen], strict=True)), label
    twins = np.repeat(batch[:1], 2, axis=0)
    np.testing.assert_array_equal(
        degrade(twins[0], np.random.default_rng(6), RECIPE), degrade(twins[1], np.random.default_rng(6), RECIPE)
    )


def _shift_candidates(image: np.ndarray, pixels: int) -> list[np.ndarray]:
    """Every image a shift of up to `pixels` (reflect padding) and an optional mirror can make."""
    padded = np.pad(image, [(pixels, pixels), (pixels, pixels), (0, 0)], mode="reflect")
    size = image.shape[0]
    crops = [padded[y : y + size, x : x + size] for y in range(2 * pixels + 1) for x in range(2 * pixels + 1)]
    return crops + [crop[:, ::-1] for crop in crops]


def test_shifts_and_flips_make_only_shifted_or_mirrored_copies():
    batch = images(16)
    shifted = shift_and_flip(batch, np.random.default_rng(1), flip=True, translate=2)
    for original, result in zip(batch, shifted, strict=True):
        assert any(np.array_equal(result, candidate) for candidate in _shift_candidates(original, 2))
    assert sum(not np.array_equal(a, b) for a, b in zip(batch, shifted, strict=True)) >= 12


def test_an_empty_recipe_is_the_identity():
    batch = images(4)
    np.testing.assert_array_equal(augment_batch(batch, np.random.default_rng(3), {}), batch)
    np.testing.assert_array_equal(
        augment_batch(batch, np.random.default_rng(3), {"flip": False, "translate": 0}), batch
    )
