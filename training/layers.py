"""Custom layers that must be importable wherever a saved imageauth model is loaded."""

from __future__ import annotations

import keras
from keras import ops

# keras.applications.vgg16.preprocess_input ("caffe" mode): RGB -> BGR, minus the ImageNet mean.
VGG16_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="imageauth")
class VGG16Preprocess(keras.layers.Layer):
    """VGG16's `preprocess_input` as a layer, so the model itself takes RGB in [0, 255].

    A Lambda around `preprocess_input` would do the same maths, but Lambda layers
    cannot be loaded in Keras' safe mode; a registered layer can.
    """

    def call(self, inputs):
        bgr = ops.flip(ops.cast(inputs, self.compute_dtype), axis=-1)
        return bgr - ops.cast(ops.convert_to_tensor(VGG16_BGR_MEAN), self.compute_dtype)


@keras.saving.register_keras_serializable(package="imageauth")
class HorizontalFlip(keras.layers.Layer):
    """Mirror NHWC images left to right: the deterministic half of flip test-time averaging."""

    def call(self, inputs):
        return ops.flip(inputs, axis=2)
