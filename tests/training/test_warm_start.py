"""`train.init_from`: a Keras weights file, or an exported model folder whose dequantised weights reproduce it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from small_models import MODEL_CONFIG, distinct_model, export_like_the_pipeline, tiny_data

from imageauth.model import Detector
from training.prepare_base_model import build_model
from training.warm_start import initialise, tflite_layer_weights

TEMPERATURE = 0.5  # what the conftest's exported model folded into its output layer

# (temperature, Platt logit shift, TFLite variant): each export the pipeline can ship.
EXPORTS = {
    "temperature": (TEMPERATURE, 0.0, "dynamic_range"),
    "platt": (0.6, -0.4, "dynamic_range"),
    "full_integer": (0.7, 0.3, "int8"),
}


@pytest.fixture(scope="module", params=sorted(EXPORTS))
def exported_variant(request, tmp_path_factory) -> tuple[Path, Path, float, float]:
    """A small model exported each way: (folder, the float weights it was made from, temperature, shift)."""
    temperature, shift, variant = EXPORTS[request.param]
    root = tmp_path_factory.mktemp(request.param)
    model = distinct_model(seed=11)
    model.save_weights(root / "original.weights.h5")
    export_like_the_pipeline(model, root / "model", temperature, shift, variant)
    return root / "model", root / "original.weights.h5", temperature, shift


def _images() -> np.ndarray:
    noise = np.random.default_rng(8).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    return np.concatenate([tiny_data()["train"][0], noise])


def _logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    features = keras.Model(model.inputs, model.get_layer("head_dropout").output)
    kernel, bias = model.get_layer("probability_fake").get_weights()
    values = features.predict(images.astype(np.float32), verbose=0).astype(np.float64)
    return (values @ kernel + bias).reshape(-1)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


@pytest.mark.parametrize("exported_variant", ["temperature", "platt"], indirect=True)
def test_an_exported_folder_reproduces_the_exported_model(exported_variant):
    """Undo the calibration and the flip average, rebuild the served function: the TFLite outputs again.

    "Within quantisation error" is measured, not assumed: the float model the
    export started from misses its own TFLite outputs by some amount (int8
    weights, activations quantised on the fly);
    the warm-started model may miss them by no more. Leaving the temperature or
    Platt's shift folded in fails this on the mean. (A full-integer model's
    outputs are too coarse for this comparison; the weights test covers it.)
    """
    folder, original_weights, temperature, shift = exported_variant
    images = _images()
    shipped = Detector(folder / "model.tflite", {"threshold": 0.5}).predict(images)

    def served(candidate: keras.Model) -> np.ndarray:
        averaged = (_logits(candidate, images) + _logits(candidate, images[:, :, ::-1])) / 2
        return _sigmoid((averaged + shift) / temperature)

    original = build_model(seed=0, **MODEL_CONFIG)
    original.load_weights(original_weights)
    quantisation = np.abs(served(original) - shipped)
    model = build_model(seed=3, **MODEL_CONFIG)
    # The starting point is far from the exported model, so the comparison below can fail.
    assert np.abs(served(model) - shipped).mean() > 5 * quantisation.mean()
    lineage = initialise(model, str(folder))
    difference = np.abs(served(model) - shipped)
    assert difference.max() <= 1.2 * quantisation.max(), (difference.max(), quantisation.max())
    assert difference.mean() <= 1.2 * quantisation.mean(), (difference.mean(), quantisation.mean())
    card = json.loads((folder / "model.json").read_text())
    assert lineage["model_version"] == card["version"] and lineage["sha256"].startswith(card["version"])
    assert lineage["mlflow_run_id"] == card["training"]["mlflow_run_id"]
    assert lineage["kind"].startswith("dequantised")


def test_the_dequantised_model_is_the_float_model_the_export_came_from(exported_variant):
    """Every kernel within half a quantisation step of the original, every bias (int32 in a full-integer
    model, calibration shift folded into the output one) back to the original's."""
    folder, original_weights, _, _ = exported_variant
    original = build_model(seed=0, **MODEL_CONFIG)
    original.load_weights(original_weights)
    model = build_model(seed=3, **MODEL_CONFIG)
    initialise(model, str(folder))
    layers = [layer for layer in model.get_layer("vgg16").layers if isinstance(layer, keras.layers.Conv2D)]
    references = [original.get_layer("vgg16").get_layer(layer.name) for layer in layers]
    layers += [model.get_layer("head_dense"), model.get_layer("probability_fake")]
    references += [original.get_layer("head_dense"), original.get_layer("probability_fake")]
    for layer, reference in zip(layers, references, strict=True):
        (kernel, bias), (expected_kernel, expected_bias) = layer.get_weights(), reference.get_weights()
        # Per output channel for convolutions; a dense kernel may be quantised per tensor.
        axes = tuple(range(expected_kernel.ndim - 1)) if isinstance(layer, keras.layers.Conv2D) else None
        step = np.abs(expected_kernel).max(axis=axes) / 127
        assert np.all(np.abs(kernel - expected_kernel) <= step / 2 + 1e-6), layer.name
        # A full-integer bias is int32 at the input's scale times the kernel's: measured within 2.2e-3 here.
        tolerance = 5e-3 * max(1.0, float(np.abs(expected_bias).max()))
        np.testing.assert_allclose(bias, expected_bias, atol=tolerance, err_msg=layer.name)
    images = _images()
    expected, restored = _sigmoid(_logits(original, images)), _sigmoid(_logits(model, images))
    assert np.abs(restored - expected).mean() < 0.02


def test_a_tampered_tflite_is_refused(exported_model, tmp_path: Path):
    folder, _ = exported_model
    tampered = shutil.copytree(folder, tmp_path / "tampered")
    model_bytes = bytearray((tampered / "model.tflite").read_bytes())
    model_bytes[len(model_bytes) // 2] ^= 0x01
    (tampered / "model.tflite").write_bytes(bytes(model_bytes))
    with pytest.raises(ValueError, match="does not match its card"):
        initialise(build_model(seed=3, **MODEL_CONFIG), str(tampered))


def test_a_keras_weights_file_is_loaded_as_it_is(tmp_path: Path):
    source = distinct_model(seed=12)
    source.save_weights(tmp_path / "start.weights.h5")
    model = build_model(seed=3, **MODEL_CONFIG)
    images = _images()
    assert np.abs(_logits(model, images) - _logits(source, images)).max() > 0.1
    lineage = initialise(model, str(tmp_path / "start.weights.h5"))
    np.testing.assert_allclose(_logits(model, images), _logits(source, images), rtol=1e-6, atol=1e-6)
    assert lineage == {
        "source": str(tmp_path / "start.weights.h5"),
        "kind": "keras weights",
        "sha256": lineage["sha256"],
    }
    assert len(lineage["sha256"]) == 64


def test_no_init_from_leaves_the_model_alone():
    model = build_model(seed=3, **MODEL_CONFIG)
    before = [weight.copy() for weight in model.get_weights()]
    assert initialise(model, None) is None
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_a_layer_exported_without_a_bias_gets_a_zero_bias(tmp_path: Path):
    """TFLite leaves a bias-free layer's bias input out (index -1): read as zeros, not as some other tensor."""
    import tensorflow as tf

    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False)(keras.layers.Dense(4)(inputs)))
    model.layers[1].set_weights([np.full((6, 4), 0.5, np.float32), np.full(4, 2.0, np.float32)])
    model.export(str(tmp_path / "saved_model"), verbose=False)
    model_bytes = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved_model")).convert()
    (tmp_path / "model.tflite").write_bytes(model_bytes)
    layers = tflite_layer_weights(tmp_path / "model.tflite")
    assert [kernel.shape for _, kernel, _ in layers] == [(6, 4), (4, 3)]
    np.testing.assert_array_equal(layers[0][2], np.full(4, 2.0, np.float32))
    np.testing.assert_array_equal(layers[1][2], np.zeros(3, np.float32))
