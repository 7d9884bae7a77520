"""A small saved imageauth model for tests of what evaluate and export do to a trained model."""

from __future__ import annotations

from pathlib import Path

from training.prepare_base_model import build_model

MODEL_CONFIG = {"image_size": 32, "weights": None, "dense_units": 8, "dropout": 0.0}


def save_moderate_model(path: Path, seed: int) -> Path:
    """An untrained model whose output weights are shrunk: probabilities far from float32 saturation."""
    model = build_model(seed=seed, **MODEL_CONFIG)
    output = model.get_layer("probability_fake")
    kernel, bias = output.get_weights()
    output.set_weights([kernel * 1e-3, bias])
    model.save(path)
    return path
