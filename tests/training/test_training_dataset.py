"""The tf.data pipeline: every image once per epoch, flips only on training batches, labels kept."""

from __future__ import annotations

import numpy as np

from training.dataset import make_dataset


def collect(dataset):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_training_batches_are_shuffled_flipped_per_image_and_complete():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(64) % 2
    out_images, out_labels = collect(make_dataset(images, labels, 16, training=True, seed=1, flip=True))

    assert out_images.dtype == np.float32 and out_images.shape == (64, 8, 8, 3)
    flipped = 0
    for image, label in zip(out_images, out_labels, strict=True):
        matches = [
            i for i in range(64) if np.array_equal(image, images[i]) or np.array_equal(image, images[i, :, ::-1])
        ]
        assert len(matches) == 1 and labels[matches[0]] == label
        flipped += not np.array_equal(image, images[matches[0]])
    assert 10 < flipped < 54  # each image flipped independently, about half of them
    assert not np.array_equal(out_labels, labels)  # shuffled


def test_evaluation_batches_are_untouched_and_in_order():
    images = np.random.default_rng(2).integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    labels = np.arange(20) % 2
    out_images, out_labels = collect(make_dataset(images, labels, 8, training=False, flip=True))
    assert np.array_equal(out_images, images.astype(np.float32))
    assert np.array_equal(out_labels, labels)
