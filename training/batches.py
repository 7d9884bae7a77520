"""Shuffled, augmented batches of the ingested uint8 arrays, for every Keras backend.

A `keras.utils.PyDataset` rather than tf.data: the same loader must feed
TensorFlow on a CPU and JAX or PyTorch on a borrowed GPU, which has no
TensorFlow. Decoding happened once in `ingest` (with the serving code's
`load_image`), so a batch is a gather, the degradations of `training.augment`
and a cast.
"""

from __future__ import annotations

import keras
import numpy as np

from training.augment import augment_batch


class Batches(keras.utils.PyDataset):
    """A new order and new augmentations every epoch, reproducible from (seed, epoch, batch index)."""

    def __init__(self, images, labels, batch_size, seed, recipe=None, training=True, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels = images, labels.astype(np.float32)
        self.batch_size, self.recipe, self.training = batch_size, recipe or {}, training
        self.seed, self.epoch = seed, 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if not self.training:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def set_epoch(self, epoch: int) -> None:
        """Resume mid-schedule with the order and augmentations that epoch would have had."""
        self.epoch = epoch
        self.order = self._order()

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        chosen = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        images = self.images[chosen]
        if self.training:
            # A generator per batch: worker threads may ask for batches in any order.
            images = augment_batch(images, np.random.default_rng([self.seed, self.epoch, index]), self.recipe)
        return images.astype(np.float32), self.labels[chosen]

    def on_epoch_end(self):
        if self.training:
            self.set_epoch(self.epoch + 1)


def validation_arrays(images, labels, seed: int, recipe: dict, degraded_copy: bool) -> tuple[np.ndarray, np.ndarray]:
    """The validation split, plus (optionally) one degraded copy of it drawn once with a fixed seed.

    The copy makes the best-epoch rule (lowest validation loss) prefer the
    epoch that holds up under blur, resizing and JPEG, not only on clean images.
    """
    if not degraded_copy:
        return images, labels
    degraded = augment_batch(np.asarray(images), np.random.default_rng([seed, 2**31]), recipe)
    return np.concatenate([images, degraded]), np.concatenate([labels, labels])
