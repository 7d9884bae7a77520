"""tf.data input pipelines over the arrays that `ingest` decoded once.

Decoding happened in `ingest` with the serving code's own function, so the
pipeline only slices, shuffles, augments, batches and prefetches uint8
tensors. Augmentation runs per image on the training split only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def load_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images = np.load(data_dir / f"{split}_images.npy")
    labels = np.load(data_dir / f"{split}_labels.npy")
    return images, labels


def _augment(flip: bool, translate: int, seed: int):
    def augment(image, label):
        if flip:
            image = tf.image.random_flip_left_right(image, seed=seed)
        if translate:
            size = tf.shape(image)[0]
            padded = tf.pad(image, [[translate, translate], [translate, translate], [0, 0]], mode="REFLECT")
            image = tf.image.random_crop(padded, tf.stack([size, size, 3]), seed=seed)
        return image, label

    return augment


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
        if flip or translate:
            dataset = dataset.map(_augment(flip, translate, seed), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
