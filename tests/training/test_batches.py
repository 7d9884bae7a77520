"""The trainer's data loader (`training.batches`): reproducible from (seed, epoch, index), reshuffled per epoch."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import training.augment
from training.batches import PROCESSES_VARIABLE, Batches, loader_options, loader_processes, validation_arrays
from training.params import load_params

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


def fit_recipe() -> dict:
    """The whole augmentation of params.yaml, as the train stage's `fit` builds it."""
    train = load_params()["train"]
    return {"flip": train["augment"]["flip"], "translate": train["augment"]["translate"], **train["degrade"]}


def two_epochs(batches: Batches) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Every batch of two epochs, asked for by four threads in any order, as PyDataset's workers do."""
    epochs = []
    with ThreadPoolExecutor(4) as threads:
        for _ in range(2):
            epochs.append(list(threads.map(batches.__getitem__, range(len(batches)))))
            batches.on_epoch_end()
    return epochs


def test_augmentation_processes_give_the_threads_batches_bit_for_bit(monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    labels = (np.arange(40) % 2).astype(np.uint8)
    expected = two_epochs(Batches(images, labels, 16, 7, fit_recipe()))

    def in_this_process(*args, **kwargs):
        raise AssertionError("degraded in the test process, not in the pool's")

    # Only the pool's workers (fresh interpreters, unpatched) can make the batches now.
    monkeypatch.setattr(training.augment, "degrade", in_this_process)
    with Batches(images, labels, 16, 7, fit_recipe(), processes=2) as pooled:
        actual = two_epochs(pooled)
    for expected_epoch, actual_epoch in zip(expected, actual, strict=True):
        for (x, y), (pooled_x, pooled_y) in zip(expected_epoch, actual_epoch, strict=True):
            assert pooled_x.dtype == x.dtype == np.float32
            np.testing.assert_array_equal(pooled_x, x)
            np.testing.assert_array_equal(pooled_y, y)
    assert not np.array_equal(expected[0][0][0], expected[1][0][0])


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads a worker's mapped libraries from /proc")
def test_pool_workers_load_no_deep_learning_backend(monkeypatch):
    """Started as `python -m training.train` starts them, the workers still run numpy and Pillow alone."""
    main = types.ModuleType("__main__")
    main.__spec__ = importlib.util.find_spec("training.train")
    monkeypatch.setitem(sys.modules, "__main__", main)
    images, labels = numbered(16)
    with Batches(images, labels, 16, 3, RECIPE, processes=1) as pooled:
        pooled[0]
        worker = pooled.pool.submit(os.getpid).result()
        libraries = Path(f"/proc/{worker}/maps").read_text()
    assert worker != os.getpid()
    assert "PIL" in libraries
    assert not [name for name in ("tensorflow", "jaxlib", "torch") if name in libraries]


KILLED_TRAINER = """
import multiprocessing, sys, time
import numpy as np
from training.batches import Batches
images = np.zeros((16, 32, 32, 3), np.uint8)
batches = Batches(images, np.zeros(16, np.uint8), 8, 0, {"flip": True}, processes=2)
batches[0], batches[1]
print(*(worker.pid for worker in multiprocessing.active_children()), flush=True)
time.sleep(120)
"""


def ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whichever process adopted it to reap it."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads process states from /proc")
def test_pool_workers_end_when_the_trainer_is_killed_outright():
    """SIGKILL leaves the pool no chance to shut down; the workers notice their parent is gone and exit."""
    trainer = subprocess.Popen(
        [sys.executable, "-c", KILLED_TRAINER], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    workers = [int(pid) for pid in trainer.stdout.readline().split()]
    assert workers and not any(ended(pid) for pid in workers)
    trainer.send_signal(signal.SIGKILL)
    trainer.wait()
    deadline = time.monotonic() + 15
    while not all(ended(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in workers if not ended(pid)]
    for pid in alive:  # leave nothing behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their trainer"


def test_outside_training_there_is_no_pool():
    images, labels = numbered(16)
    with Batches(images, labels, 16, 3, RECIPE, training=False, processes=2) as batches:
        assert batches.pool is None


def test_loader_processes_by_default_leave_two_cores_on_big_machines_and_none_on_small(monkeypatch):
    monkeypatch.delenv(PROCESSES_VARIABLE, raising=False)
    assert loader_processes(cores=2) == 0
    assert loader_processes(cores=7) == 0
    assert loader_processes(cores=16) == 14
    assert loader_processes() == (os.cpu_count() - 2 if os.cpu_count() >= 8 else 0)
    assert loader_options(0) == {"processes": 0, "workers": 4, "max_queue_size": 16}  # threads only, as before
    assert loader_options(14) == {"processes": 14, "workers": 14, "max_queue_size": 28}


def test_loader_processes_follow_the_environment(monkeypatch):
    monkeypatch.setenv(PROCESSES_VARIABLE, "3")
    assert loader_processes(cores=2) == 3
    assert loader_options()["processes"] == 3
    monkeypatch.setenv(PROCESSES_VARIABLE, "0")
    assert loader_processes(cores=16) == 0
    for wrong in ("many", "-1", "2.5"):
        monkeypatch.setenv(PROCESSES_VARIABLE, wrong)
        with pytest.raises(ValueError, match=f"{PROCESSES_VARIABLE}='{wrong}'"):
            loader_processes()
