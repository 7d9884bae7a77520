"""Model-graph surgery shared by evaluate and export: float rebuild, calibration folding, flip averaging.

Evaluate decides the calibration and the flip-averaging setting
on validation logits; export must serve exactly the function evaluate
measured. Both therefore build the served graph here, from the train stage's
weights, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from training.layers import HorizontalFlip
from training.prepare_base_model import build_model


def load_trained_model(
    weights_path: Path,
    model_config: dict,
    temperature: float = 1.0,
    flip_average: bool = False,
    logit_shift: float = 0.0,
) -> keras.Model:
    """Rebuild in float32 and load the trained weights, whatever precision training used.

    The calibration is folded into the output layer: sigmoid((Wx + b + s) / T)
    is sigmoid((W / T) x + (b + s) / T), so the exported model needs no extra
    op and every runtime serves calibrated probabilities.
    """
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(seed=0, **{**model_config, "weights": None})
    model.load_weights(weights_path)
    if temperature != 1.0 or logit_shift:
        output = model.get_layer("probability_fake")
        kernel, bias = output.get_weights()
        output.set_weights([kernel / temperature, (bias + logit_shift) / temperature])
    return flip_averaged(model) if flip_average else model


def flip_averaged(model: keras.Model) -> keras.Model:
    """The model applied to an image and its mirror image, logits averaged, as one graph.

    Training flips half the images, so both views are in distribution and their
    errors partly cancel. The output layer is linear before its sigmoid, so
    averaging the two views' features and applying it once equals averaging the
    two logits - what `predict_logits(..., flip_average=True)` computes - and the
    exported model stays a single input -> P(fake) graph at twice the compute.
    """
    features = feature_extractor(model)
    image = keras.Input(shape=model.input_shape[1:], name="image")
    mirrored = HorizontalFlip(name="mirror")(image)
    averaged = keras.layers.Average(name="flip_average")([features(image), features(mirrored)])
    outputs = model.get_layer("probability_fake")(averaged)
    return keras.Model(image, outputs, name=f"{model.name}_flip_average")


def feature_extractor(model: keras.Model) -> keras.Model:
    """The plain model up to the output layer's input (the head's features), sharing its weights."""
    return keras.Model(model.inputs, model.get_layer("head_dropout").output, name="vgg16_features")


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0).reshape(-1)


def logit_function(model: keras.Model, flip_average: bool = False, batch_size: int = 256):
    """images -> the output layer's input to its sigmoid, in float64: what temperature scaling needs.

    `model` is the plain (unwrapped) model; with `flip_average` the logits of
    each image and its mirror image are averaged. The feature sub-model is
    built once, so scoring many batches (evaluate's perturbed copies) traces
    the predict function once.
    """
    features = feature_extractor(model)
    kernel, bias = (weight.astype(np.float64) for weight in model.get_layer("probability_fake").get_weights())

    def logits(pixels: np.ndarray) -> np.ndarray:
        values = features.predict(np.asarray(pixels, np.float32), batch_size=batch_size, verbose=0)
        return (values.astype(np.float64) @ kernel + bias).reshape(-1)

    def function(images: np.ndarray) -> np.ndarray:
        if flip_average:
            return (logits(images) + logits(np.asarray(images)[:, :, ::-1])) / 2
        return logits(images)

    return function


def predict_logits(model: keras.Model, images: np.ndarray, flip_average: bool = False) -> np.ndarray:
    return logit_function(model, flip_average)(images)
