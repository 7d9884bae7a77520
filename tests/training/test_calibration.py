"""Temperature scaling: fitted on validation, decision-preserving, folded into the model's output layer."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import load_trained_model
from training.metrics import apply_temperature, choose_threshold, expected_calibration_error, fit_temperature
from training.prepare_base_model import build_model

MODEL_CONFIG = {"image_size": 32, "weights": None, "dense_units": 8, "dropout": 0.0}


def _overconfident(count: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated logits, reported `temperature` times too sharp."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 2.5, count)
    labels = (rng.random(count) < 1 / (1 + np.exp(-true_logits))).astype(int)
    return labels, 1 / (1 + np.exp(-true_logits * temperature))


def test_fit_recovers_the_overconfidence_factor() -> None:
    labels, probabilities = _overconfident(20000, temperature=2.0, seed=0)
    assert fit_temperature(labels, probabilities) == pytest.approx(2.0, rel=0.08)


def test_scaling_lowers_ece_on_unseen_data_and_keeps_every_decision() -> None:
    val_labels, val_probabilities = _overconfident(5000, temperature=2.5, seed=1)
    test_labels, test_probabilities = _overconfident(5000, temperature=2.5, seed=2)
    temperature = fit_temperature(val_labels, val_probabilities)
    calibrated = apply_temperature(test_probabilities, temperature)
    assert expected_calibration_error(test_labels, calibrated) < expected_calibration_error(
        test_labels, test_probabilities
    ) / 2
    # Monotone: the image order, hence ROC and every thresholded decision, is unchanged.
    order = np.argsort(test_probabilities, kind="stable")
    assert (np.diff(calibrated[order]) >= 0).all()
    threshold = choose_threshold(val_labels, val_probabilities, "max_accuracy", 0.05)
    moved = apply_temperature(np.array([threshold]), temperature)[0]
    assert ((test_probabilities >= threshold) == (calibrated >= moved)).all()


def test_a_calibrated_model_needs_no_scaling() -> None:
    labels, probabilities = _overconfident(20000, temperature=1.0, seed=3)
    assert fit_temperature(labels, probabilities) == pytest.approx(1.0, rel=0.08)


def test_folded_temperature_gives_the_scaled_probabilities(tmp_path) -> None:
    model = build_model(seed=1, **MODEL_CONFIG)
    output = model.get_layer("probability_fake")
    kernel, bias = output.get_weights()
    output.set_weights([kernel * 1e-3, bias])  # moderate probabilities, far from float32 saturation
    path = tmp_path / "model.keras"
    model.save(path)
    images = np.random.default_rng(4).integers(0, 256, (16, 32, 32, 3)).astype(np.float32)
    raw = load_trained_model(path, MODEL_CONFIG).predict(images, verbose=0).reshape(-1)
    folded = load_trained_model(path, MODEL_CONFIG, temperature=3.0).predict(images, verbose=0).reshape(-1)
    assert ((raw > 0.01) & (raw < 0.99)).all()
    np.testing.assert_allclose(folded, apply_temperature(raw, 3.0), atol=1e-5)
    assert np.abs(folded - 0.5).max() < np.abs(raw - 0.5).max() / 2
