"""Stage `prepare_base_model`: VGG16 without its top, plus imageauth's binary head.

The model takes RGB pixels in [0, 255] at `image_size` and returns P(fake):
VGG16's own preprocessing is the first layer, so no caller can forget it.
Weights are `imagenet` (downloaded by Keras), a path to a local `.h5`, or none
(from scratch, the only choice on machines without internet).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras

from training.layers import VGG16Preprocess
from training.params import load_params

# Keras names VGG16's convolution layers blockN_convM; unfreezing works block by block.
VGG16_BLOCKS = 5


def resolve_weights(weights: str | None) -> str | None:
    if weights in (None, "none", "None", ""):
        return None
    if weights == "imagenet":
        return "imagenet"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"VGG16 weights file not found: {path}")
    return str(path)


def architecture(params: dict) -> dict:
    """The `build_model` arguments that params.yaml sets: what a stage needs to rebuild the model."""
    section = params["prepare_base_model"]
    return {
        "image_size": params["base"]["image_size"],
        "weights": section["weights"],
        "dense_units": section["dense_units"],
        "dropout": section["dropout"],
    }


def build_model(
    image_size: int,
    weights: str | None,
    dense_units: int,
    dropout: float,
    seed: int,
) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(image_size, image_size, 3), name="image")
    features = VGG16Preprocess(name="vgg16_preprocess")(inputs)
    base_weights = resolve_weights(weights)
    base = keras.applications.VGG16(
        include_top=False,
        weights=base_weights,
        input_shape=(image_size, image_size, 3),
    )
    if base_weights is None:
        _he_initialise(base, seed)
    features = base(features)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    if dense_units:
        features = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(features)
    features = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(features)
    # The output stays float32 under mixed precision: a bf16 sigmoid saturates early.
    outputs = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability_fake")(features)
    return keras.Model(inputs, outputs, name="imageauth_vgg16")


def _he_initialise(base: keras.Model, seed: int) -> None:
    """He-normal convolution kernels for training from scratch.

    Keras builds VGG16 with Glorot-uniform kernels, which shrink ReLU activations
    layer after layer; without batch normalisation, 13 such layers leave the
    first hundreds of steps on a plateau at chance. He initialisation keeps the
    activation scale, and training leaves the plateau at once.
    """
    convolutions = [layer for layer in base.layers if isinstance(layer, keras.layers.Conv2D)]
    for index, layer in enumerate(convolutions):
        initializer = keras.initializers.HeNormal(seed=seed + index)
        layer.kernel.assign(initializer(layer.kernel.shape))


def set_trainable_blocks(model: keras.Model, trainable_blocks: int) -> None:
    """Freeze VGG16 except its top `trainable_blocks` blocks; the head always trains."""
    base = model.get_layer("vgg16")
    base.trainable = trainable_blocks > 0
    first_trainable = VGG16_BLOCKS - trainable_blocks + 1
    for layer in base.layers:
        if layer.name.startswith("block"):
            block = int(layer.name[len("block")])
            layer.trainable = block >= first_trainable


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    params = load_params()
    section = params["prepare_base_model"]
    model = build_model(seed=params["base"]["seed"], **architecture(params))
    output = Path(section["output"])
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    summary = {"parameters": model.count_params(), "weights": section["weights"]}
    output.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
