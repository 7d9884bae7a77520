"""Small imageauth models and data for tests of the train stage, evaluate and export."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import keras
import numpy as np

from training.prepare_base_model import build_model

MODEL_CONFIG = {"image_size": 32, "weights": None, "dense_units": 8, "dropout": 0.0}

# The `train` section of params.yaml at the smallest size that still exercises every mechanism:
# warm-up and cosine schedule, AdamW, smoothing, EMA, the degradations and a degraded validation copy.
TRAIN_CONFIG = {
    "output_dir": "models",
    "state_dir": ".train_state",
    "init_from": None,
    "trainable_blocks": 5,
    "batch_size": 16,
    "epochs": 2,
    "time_budget_minutes": None,
    "learning_rate": 0.001,
    "lr_schedule": "cosine",
    "warmup_epochs": 0.5,
    "weight_decay": 0.01,
    "label_smoothing": 0.1,
    "ema_momentum": 0.9,
    "early_stopping_patience": 5,
    "mixed_precision": False,
    "validate_degraded": True,
    "augment": {"flip": True, "translate": 2},
    "degrade": {
        "resize": {"p": 0.3, "sizes": [12, 31]},
        "thumbnail": {"p": 0.15, "size": 64},
        "blur": {"p": 0.3, "sigma": [0.2, 1.2]},
        "sharpen": {"p": 0.3, "amount": [0.3, 1.5], "sigma": [0.6, 1.2]},
        "noise": {"p": 0.2, "sigma": [0.5, 4.0]},
        "jpeg": {"p": 0.4, "quality": [30, 95]},
    },
}


def tiny_data(count: int = 32, seed: int = 4) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Dark "real" and bright "fake" noise images: `{"train": ..., "val": ...}` as ingest's arrays load."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(count) % 2).astype(np.uint8)
    images = np.where(labels[:, None, None, None], 170, 30).astype(np.uint8)
    images = images + rng.integers(0, 60, (count, 32, 32, 3), dtype=np.uint8)
    return {"train": (images, labels), "val": (images[:8].copy(), labels[:8].copy())}


def save_moderate_model(path: Path, seed: int) -> Path:
    """An untrained model whose logits on noise images have a root mean square of 1: probabilities far from
    float32 saturation, and far enough apart for differences between two views of an image to show."""
    model = build_model(seed=seed, **MODEL_CONFIG)
    images = np.random.default_rng(seed).integers(0, 256, (16, 32, 32, 3)).astype(np.float32)
    features = keras.Model(model.inputs, model.get_layer("head_dropout").output).predict(images, verbose=0)
    output = model.get_layer("probability_fake")
    kernel, bias = output.get_weights()
    output.set_weights([kernel / (np.sqrt(np.mean((features @ kernel) ** 2)) + 1e-12), bias])
    model.save(path)
    return path


def distinct_model(seed: int, config: dict = MODEL_CONFIG) -> keras.Model:
    """A model with non-zero biases and moderate logits, like a trained one (an untrained one has zero biases)."""
    model = build_model(seed=seed, **config)
    rng = np.random.default_rng(seed)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer in model.get_layer("vgg16").layers + dense:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0.0, 0.05, bias.shape).astype(np.float32)])
    images = tiny_data()["train"][0].astype(np.float32)
    features = keras.Model(model.inputs, model.get_layer("head_dropout").output).predict(images, verbose=0)
    output = model.get_layer("probability_fake")
    kernel, _ = output.get_weights()
    logits = features @ kernel
    # Logits spread around zero with a standard deviation of about 2: probabilities well inside (0, 1).
    scale = 2.0 / (logits.std() + 1e-12)
    output.set_weights([kernel * scale, np.array([-float(np.mean(logits)) * scale], np.float32)])
    return model


def export_like_the_pipeline(
    model: keras.Model, folder: Path, temperature: float, logit_shift: float = 0.0, variant: str = "dynamic_range"
) -> Path:
    """`model` as the export stage ships it: calibration folded in, flip-averaged, converted to TFLite.

    Uses the export stage's own graph surgery and converter, and writes
    `model.tflite` and a card `model.json` whose `version` is the file's
    SHA-256 prefix: the two things `train.init_from` reads from a folder.
    """
    from training.export import convert
    from training.graph import load_trained_model

    with tempfile.TemporaryDirectory() as directory:
        weights = Path(directory) / "model.weights.h5"
        model.save_weights(weights)
        served = load_trained_model(weights, _config_of(model), temperature, True, logit_shift)
        served.export(f"{directory}/saved_model", verbose=False)
        # Calibration images for full-integer quantisation: the tiny dataset and uniform noise, what tests feed.
        noise = np.random.default_rng(8).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
        representative = np.concatenate([tiny_data()["train"][0], noise]).astype(np.float32)
        model_bytes = convert(Path(directory) / "saved_model", variant, representative)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(model_bytes)
    card = {
        "version": hashlib.sha256(model_bytes).hexdigest()[:12],
        "variant": variant,
        "threshold": 0.5,
        "calibration": {"temperature": temperature, "logit_shift": logit_shift},
        "flip_average": {"enabled": True},
        "training": {"mlflow_run_id": "0123456789abcdef"},
        "metrics": {"accuracy": 0.5},
    }
    (folder / "model.json").write_text(json.dumps(card, indent=2))
    return folder


def _config_of(model: keras.Model) -> dict:
    return {**MODEL_CONFIG, "dense_units": model.get_layer("head_dense").units}
