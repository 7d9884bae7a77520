"""tf.data input pipelines over the arrays that `ingest` decoded once.

Decoding happened in `ingest` with the serving code's own function, so the
pipeline only slices, shuffles, augments, batches and prefetches uint8
tensors. Augmentation runs on the training split only: flips on whole batches
(one vectorised op that still flips each image independently), shifts per image.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _translate(pixels: int, seed: int):
    """Random shift by up to `pixels`, per image (reflect padding, then a random crop)."""

    def translate(image, label):
        size = tf.shape(image)[0]
        padded = tf.pad(image, [[pixels, pixels], [pixels, pixels], [0, 0]], mode="REFLECT")
        return tf.image.random_crop(padded, tf.stack([size, size, 3]), seed=seed), label

    return translate


def _to_float(flip: bool, seed: int):
    """Cast a batch to float32 and, for training, flip each image of it independently (one vectorised op)."""

    def prepare(images, labels):
        images = tf.cast(images, tf.float32)
        if flip:
            images = tf.image.random_flip_left_right(images, seed=seed)
        return images, labels

    return prepare


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    training: bool,
    seed: int = 0,
    flip: bool = False,
    translate: int = 0,
) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.float32)))
    dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        if translate:
            dataset = dataset.map(_translate(translate, seed), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(_to_float(training and flip, seed), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
