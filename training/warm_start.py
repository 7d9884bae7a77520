"""Initial weights for the `train` stage from a model this project exported earlier (`.tflite`).

Why: the float weights of a model shipped before the pipeline kept them
lived only in one machine's MLflow store; the exported TFLite file is what
survives. Its weights are the same network's, stored int8 per output channel
(dynamic-range quantisation) with the calibration temperature and flip
averaging folded in. Dequantised, they are within half a quantisation step
of the originals: a good starting point for a fine-tuning run, never a
substitute for the float weights the pipeline now keeps itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np


def _dequantised(interpreter, index: int) -> np.ndarray:
    """A stored tensor in float: int8 kernels (per channel) and the int32 biases of full-integer models alike."""
    detail = next(d for d in interpreter.get_tensor_details() if d["index"] == index)
    values = interpreter.get_tensor(index)
    quantisation = detail["quantization_parameters"]
    scales = quantisation["scales"]
    if not np.issubdtype(values.dtype, np.integer) or scales.size == 0:
        return values.astype(np.float32)
    # Per-channel parameters broadcast along the quantised axis; per-tensor ones are a single value.
    shape = [1] * values.ndim
    if scales.size > 1:
        shape[quantisation["quantized_dimension"]] = -1
    zero_points = quantisation["zero_points"].astype(np.float32).reshape(shape)
    return (values.astype(np.float32) - zero_points) * scales.astype(np.float32).reshape(shape)


def tflite_layer_weights(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op, kernel, bias) per CONV_2D / FULLY_CONNECTED weight set, in graph order, in Keras layout.

    A flip-averaged graph runs each convolution twice with the same weights;
    weight sets are taken once, the first time they appear.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    seen, layers = set(), []
    for op in interpreter._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        _, kernel_index, bias_index = op["inputs"][:3]
        if kernel_index in seen:
            continue
        seen.add(kernel_index)
        kernel = _dequantised(interpreter, kernel_index)
        # A layer exported without a bias has none in the graph (index -1): its bias is zero.
        bias = _dequantised(interpreter, bias_index) if bias_index >= 0 else np.zeros(kernel.shape[0], np.float32)
        # TFLite stores convolution kernels OHWI and dense kernels [out, in]; Keras wants HWIO and [in, out].
        kernel = kernel.transpose(1, 2, 3, 0) if op["op_name"] == "CONV_2D" else kernel.T
        layers.append((op["op_name"], kernel, bias))
    return layers


def load_tflite_weights(
    model: keras.Model, path: Path, temperature: float, flip_averaged: bool, logit_shift: float = 0.0
) -> None:
    """Set `model`'s convolution and dense weights from an exported imageauth TFLite file.

    The export folded two things into the output layer: the calibration
    (W / T and (b + logit_shift) / T, Platt scaling's shift being zero for
    temperature scaling) and, for a flip-averaged graph, the average of the
    two views' features (an Add followed by W / 2). Both are undone so that
    the model starts from the raw logits it was trained to produce.
    """
    layers = tflite_layer_weights(path)
    targets = [layer for layer in model.get_layer("vgg16").layers if isinstance(layer, keras.layers.Conv2D)]
    targets += [model.get_layer("head_dense"), model.get_layer("probability_fake")]
    if len(layers) != len(targets):
        raise ValueError(f"{path} has {len(layers)} weight sets; the model has {len(targets)} layers to fill")
    for (_, kernel, bias), layer in zip(layers, targets, strict=True):
        expected = tuple(layer.kernel.shape)
        if kernel.shape != expected:
            raise ValueError(f"{path}: kernel {kernel.shape} does not fit {layer.name} {expected}")
        layer.set_weights([kernel, bias])
    output = model.get_layer("probability_fake")
    kernel, bias = output.get_weights()
    output.set_weights([kernel * temperature * (2.0 if flip_averaged else 1.0), bias * temperature - logit_shift])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def initialise(model: keras.Model, init_from: str | None) -> dict | None:
    """Load the `train.init_from` weights into `model`; return the lineage record for train.json and the card.

    `init_from` is a folder holding an exported `model.tflite` and its card
    `model.json` (the card says how to undo what export folded in, and its
    `version` must be the file's hash: the folder name pins the content), or
    a Keras `.weights.h5` file of the same architecture.
    """
    if not init_from:
        return None
    path = Path(init_from)
    if path.is_dir():
        tflite, card = path / "model.tflite", json.loads((path / "model.json").read_text())
        digest = _sha256(tflite)
        if not digest.startswith(card["version"]):
            raise ValueError(f"{tflite} does not match its card (version {card['version']}, sha256 {digest})")
        calibration = card.get("calibration", {})
        flip = card.get("flip_average", {}).get("enabled", False)
        load_tflite_weights(
            model, tflite, calibration.get("temperature", 1.0), flip, calibration.get("logit_shift", 0.0)
        )
        return {
            "source": str(path),
            "kind": "dequantised weights of an exported model",
            "model_version": card["version"],
            "sha256": digest,
            "mlflow_run_id": card.get("training", {}).get("mlflow_run_id"),
            "test_accuracy": card.get("metrics", {}).get("accuracy"),
        }
    model.load_weights(path)
    return {"source": str(path), "kind": "keras weights", "sha256": _sha256(path)}
