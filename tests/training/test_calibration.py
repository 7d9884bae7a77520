"""Calibration (temperature, Platt): fitted on validation, decision-preserving, folded into the output layer."""

from __future__ import annotations

import numpy as np
import pytest
from small_models import MODEL_CONFIG, save_moderate_model

from training.graph import load_trained_model, predict_logits
from training.metrics import (
    apply_calibration,
    choose_threshold,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    sigmoid,
)


def _overconfident(count: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated logits, and those logits `temperature` times too large."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 2.5, count)
    labels = (rng.random(count) < sigmoid(true_logits)).astype(int)
    return labels, true_logits * temperature


def test_fit_recovers_the_overconfidence_factor() -> None:
    labels, logits = _overconfident(20000, temperature=2.0, seed=0)
    assert fit_temperature(labels, logits) == pytest.approx(2.0, rel=0.08)


def test_scaling_lowers_ece_on_unseen_data_and_keeps_every_decision() -> None:
    val_labels, val_logits = _overconfident(5000, temperature=2.5, seed=1)
    test_labels, test_logits = _overconfident(5000, temperature=2.5, seed=2)
    temperature = fit_temperature(val_labels, val_logits)
    raw, calibrated = sigmoid(test_logits), apply_calibration(test_logits, temperature)
    assert expected_calibration_error(test_labels, calibrated) < expected_calibration_error(test_labels, raw) / 2
    # Monotone: the image order, hence ROC and every thresholded decision, is unchanged.
    assert (np.argsort(calibrated) == np.argsort(raw)).all()
    threshold = choose_threshold(val_labels, sigmoid(val_logits), "max_accuracy", 0.05)
    moved = apply_calibration(np.log(threshold / (1 - threshold)), temperature)
    assert ((raw >= threshold) == (calibrated >= moved)).all()


def test_saturated_probabilities_keep_their_logits() -> None:
    """Logits of 40 and 80 are both P = 1.0 in float32, but not after dividing by a temperature of 10."""
    assert (np.float32(sigmoid(np.array([40.0, 80.0]))) == 1.0).all()
    calibrated = apply_calibration(np.array([40.0, 80.0]), 10.0)
    assert calibrated[0] < 0.99 < calibrated[1]


def test_a_calibrated_model_needs_no_scaling() -> None:
    labels, logits = _overconfident(20000, temperature=1.0, seed=3)
    assert fit_temperature(labels, logits) == pytest.approx(1.0, rel=0.08)


def test_folded_temperature_gives_the_scaled_probabilities(tmp_path) -> None:
    path = save_moderate_model(tmp_path / "model.keras", seed=1)
    images = np.random.default_rng(4).integers(0, 256, (16, 32, 32, 3)).astype(np.float32)
    plain = load_trained_model(path, MODEL_CONFIG)
    raw = plain.predict(images, verbose=0).reshape(-1)
    logits = predict_logits(plain, images)
    np.testing.assert_allclose(sigmoid(logits), raw, atol=1e-6)
    folded = load_trained_model(path, MODEL_CONFIG, temperature=3.0).predict(images, verbose=0).reshape(-1)
    assert ((raw > 0.01) & (raw < 0.99)).all()
    np.testing.assert_allclose(folded, apply_calibration(logits, 3.0), atol=1e-5)
    assert np.abs(folded - 0.5).max() < np.abs(raw - 0.5).max() / 2


def _biased(count: int, scale: float, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated logits z, and the logits a model reports: z * scale - shift."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0.5, 2.5, count)
    labels = (rng.random(count) < sigmoid(true_logits)).astype(int)
    return labels, true_logits * scale - shift


def test_platt_recovers_scale_and_shift() -> None:
    labels, logits = _biased(40000, scale=2.0, shift=1.5, seed=5)
    temperature, shift = fit_platt(labels, logits)
    assert temperature == pytest.approx(2.0, rel=0.05)
    assert shift == pytest.approx(1.5, abs=0.1)


def test_platt_fixes_a_bias_that_no_temperature_can() -> None:
    val_labels, val_logits = _biased(8000, scale=1.5, shift=1.2, seed=6)
    test_labels, test_logits = _biased(8000, scale=1.5, shift=1.2, seed=7)
    by_temperature = apply_calibration(test_logits, fit_temperature(val_labels, val_logits))
    by_platt = apply_calibration(test_logits, *fit_platt(val_labels, val_logits))
    assert expected_calibration_error(test_labels, by_platt) < 0.02  # ~1 %: 15 bins' sampling noise
    assert expected_calibration_error(test_labels, by_temperature) > 2 * expected_calibration_error(
        test_labels, by_platt
    )


def test_folded_shift_gives_the_platt_probabilities(tmp_path) -> None:
    path = save_moderate_model(tmp_path / "model.keras", seed=2)
    images = np.random.default_rng(8).integers(0, 256, (16, 32, 32, 3)).astype(np.float32)
    logits = predict_logits(load_trained_model(path, MODEL_CONFIG), images)
    folded = load_trained_model(path, MODEL_CONFIG, temperature=1.5, logit_shift=0.8)
    np.testing.assert_allclose(
        folded.predict(images, verbose=0).reshape(-1), apply_calibration(logits, 1.5, 0.8), atol=1e-5
    )
    assert np.abs(apply_calibration(logits, 1.5, 0.8) - apply_calibration(logits, 1.5)).max() > 0.01


def test_the_calibrated_rule_does_not_wander_and_loses_nothing_to_the_arg_max() -> None:
    """Why `evaluate.threshold: calibrated`: on calibrated scores, each validation split's most accurate
    threshold lands somewhere different on a flat plateau, and on fresh images it is no more accurate
    than 0.5."""
    fresh_labels, fresh_logits = _overconfident(200000, temperature=1.0, seed=40)
    fresh = sigmoid(fresh_logits)
    arg_max_thresholds, arg_max_accuracy, calibrated_accuracy = [], [], []
    for seed in range(41, 49):
        labels, logits = _overconfident(9000, temperature=1.0, seed=seed)
        arg_max = choose_threshold(labels, sigmoid(logits), "max_accuracy", 0.05)
        calibrated = choose_threshold(labels, sigmoid(logits), "calibrated", 0.05)
        assert calibrated == 0.5
        arg_max_thresholds.append(arg_max)
        arg_max_accuracy.append(((fresh >= arg_max) == fresh_labels).mean())
        calibrated_accuracy.append(((fresh >= calibrated) == fresh_labels).mean())
    assert np.ptp(arg_max_thresholds) > 0.03
    assert np.mean(calibrated_accuracy) >= np.mean(arg_max_accuracy) - 1e-4


def test_an_unknown_threshold_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="calibrated"):
        choose_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "best_guess", 0.05)
