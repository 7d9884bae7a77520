"""A from-scratch base model starts where a from-scratch run can learn: logits of about unit scale.

VGG16 takes pixels minus the ImageNet mean (standard deviation ~65), and
without batch normalisation every He-initialised layer keeps the scale of its
input; unless the first convolution absorbs that scale the initial logits
are ~8 and the first steps of training only shrink them.
"""

from __future__ import annotations

import numpy as np

from training.graph import feature_extractor
from training.prepare_base_model import build_model


def initial_logits(seed: int) -> np.ndarray:
    model = build_model(32, None, 256, 0.3, seed)
    images = np.random.default_rng(seed).integers(0, 256, (64, 32, 32, 3)).astype(np.float32)
    kernel, bias = model.get_layer("probability_fake").get_weights()
    return (feature_extractor(model).predict(images, verbose=0) @ kernel + bias).reshape(-1)


def test_initial_logits_are_of_unit_scale_not_pixel_scale():
    logits = initial_logits(seed=3)
    assert 0.01 < logits.std() < 1.0
    assert np.abs(logits).max() < 3.0  # no image starts saturated, so every image gets a gradient


def test_the_same_seed_builds_the_same_weights_and_another_seed_others():
    first, again, other = (build_model(32, None, 256, 0.3, seed).get_weights() for seed in (5, 5, 6))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
