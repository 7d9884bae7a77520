"""Flip test-time averaging: one exported graph that scores an image and its mirror image."""

from __future__ import annotations

import numpy as np
from small_models import MODEL_CONFIG, save_moderate_model

from training.graph import load_trained_model, predict_logits
from training.metrics import apply_calibration


def _images(count: int = 12) -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (count, 32, 32, 3)).astype(np.float32)


def test_flip_averaged_model_cannot_tell_an_image_from_its_mirror(tmp_path) -> None:
    path = save_moderate_model(tmp_path / "model.keras", seed=2)
    images = _images()
    mirrored = images[:, :, ::-1]
    plain = load_trained_model(path, MODEL_CONFIG)
    # The plain model does tell them apart, so the invariance below comes from the wrapper.
    plain_gap = np.abs(plain.predict(images, verbose=0) - plain.predict(mirrored, verbose=0)).max()
    assert plain_gap > 1e-4
    averaged = load_trained_model(path, MODEL_CONFIG, flip_average=True)
    np.testing.assert_allclose(averaged.predict(images, verbose=0), averaged.predict(mirrored, verbose=0), atol=1e-6)


def test_wrapped_graph_equals_the_averaged_logits_that_evaluate_calibrates(tmp_path) -> None:
    """Evaluate fits T and the threshold on `predict_logits(..., flip_average=True)`; export ships the graph."""
    path = save_moderate_model(tmp_path / "model.keras", seed=2)
    images = _images()
    plain = load_trained_model(path, MODEL_CONFIG)
    averaged_logits = predict_logits(plain, images, flip_average=True)
    single_logits = predict_logits(plain, images)
    assert np.abs(averaged_logits - single_logits).max() > 1e-3
    exported = load_trained_model(path, MODEL_CONFIG, temperature=2.0, flip_average=True)
    np.testing.assert_allclose(
        exported.predict(images, verbose=0).reshape(-1), apply_calibration(averaged_logits, 2.0), atol=1e-5
    )
    assert exported.input_shape == plain.input_shape and exported.output_shape == plain.output_shape
