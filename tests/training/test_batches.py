"""The trainer's data loader (`training.batches`): reproducible from (seed, epoch, index), reshuffled per epoch."""

from __future__ import annotations

import numpy as np

from training.batches import Batches, validation_arrays

RECIPE = {
    "flip": True,
    "translate": 2,
    "blur": {"p": 0.5, "sigma": [0.2, 1.2]},
    "jpeg": {"p": 0.5, "quality": [30, 95]},
}


def numbered(count: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Image i is filled with the value i, so a batch says which images it holds."""
    images = np.repeat(np.arange(count, dtype=np.uint8), 32 * 32 * 3).reshape(count, 32, 32, 3)
    return images, (np.arange(count) % 2).astype(np.uint8)


def members(batches: Batches, index: int) -> list[int]:
    pixels, _ = batches[index]
    return [int(image[0, 0, 0]) for image in pixels]


def test_the_same_seed_epoch_and_index_give_the_same_batch_in_any_order():
    images, labels = numbered()
    first, second = Batches(images, labels, 16, 3, RECIPE), Batches(images, labels, 16, 3, RECIPE)
    first.set_epoch(4)
    second.set_epoch(4)
    later = second[2]  # worker threads ask for batches in any order
    for index in (0, 1, 2):
        expected = first[index]
        actual = later if index == 2 else second[index]
        np.testing.assert_array_equal(actual[0], expected[0])
        np.testing.assert_array_equal(actual[1], expected[1])
    other_seed = Batches(images, labels, 16, 4, RECIPE)
    other_seed.set_epoch(4)
    assert not np.array_equal(other_seed[0][0], first[0][0])


def test_each_epoch_is_a_new_order_of_every_image_once():
    images, labels = numbered()
    batches = Batches(images, labels, 16, 3)
    assert len(batches) == 3  # 40 images: 16 + 16 + 8
    orders = []
    for _ in range(3):
        order = [member for index in range(len(batches)) for member in members(batches, index)]
        assert sorted(order) == list(range(40))
        orders.append(order)
        batches.on_epoch_end()
    assert orders[0] != orders[1] != orders[2]
    # Resuming at epoch 2 gives the epoch that two epochs' ends led to.
    resumed = Batches(images, labels, 16, 3)
    resumed.set_epoch(2)
    assert [member for index in range(3) for member in members(resumed, index)] == orders[2]


def test_labels_travel_with_their_images():
    images, labels = numbered()
    batches = Batches(
        images,
        labels,
        16,
        3,
        RECIPE | {"translate": 0, "blur": {"p": 0.0, "sigma": [1, 1]}, "jpeg": {"p": 0.0, "quality": [90, 90]}},
    )
    pixels, batch_labels = batches[1]
    assert batch_labels.dtype == np.float32 and pixels.dtype == np.float32
    np.testing.assert_array_equal(batch_labels, labels[pixels[:, 0, 0, 0].astype(int)])


def test_outside_training_batches_are_in_order_and_untouched():
    images, labels = numbered()
    batches = Batches(images, labels, 16, 3, RECIPE, training=False)
    batches.on_epoch_end()
    np.testing.assert_array_equal(batches[0][0], images[:16].astype(np.float32))


def test_the_degraded_validation_copy_is_fixed_by_the_seed():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    labels = (np.arange(12) % 2).astype(np.uint8)
    x, y = validation_arrays(images, labels, 5, RECIPE, degraded_copy=True)
    again, _ = validation_arrays(images, labels, 5, RECIPE, degraded_copy=True)
    assert x.shape == (24, 32, 32, 3) and list(y) == list(labels) * 2
    np.testing.assert_array_equal(x[:12], images)
    np.testing.assert_array_equal(x, again)
    assert not np.array_equal(x[12:], images)
    clean, clean_labels = validation_arrays(images, labels, 5, RECIPE, degraded_copy=False)
    assert clean is images and clean_labels is labels
