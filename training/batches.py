"""Shuffled, augmented batches of the ingested uint8 arrays, for every Keras backend.

A `keras.utils.PyDataset` rather than tf.data: the same loader must feed
TensorFlow on a CPU and JAX or PyTorch on a borrowed GPU, which has no
TensorFlow. Decoding happened once in `ingest` (with the serving code's
`load_image`), so a batch is a gather, the degradations of `training.augment`
and a cast.
"""

from __future__ import annotations

import multiprocessing.context
import os
import sys
import threading
import types
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor

import keras
import numpy as np

from training.augment import augment_batch
from training.parent_watch import exit_with_parent

PROCESSES_VARIABLE = "IMAGEAUTH_LOADER_PROCESSES"


def loader_processes(environ: Mapping[str, str] = os.environ, cores: int | None = None) -> int:
    """Augmentation processes: $IMAGEAUTH_LOADER_PROCESSES, else all cores but two where there are 8 or more.

    Pillow's per-image calls hold the GIL, so only processes make the
    degradations scale with cores; on a small machine they would only take
    cores from the model. An environment variable, not a parameter: it
    changes how fast batches come, never which, so must not re-run DVC's stage.
    """
    value = environ.get(PROCESSES_VARIABLE, "").strip()
    if not value:
        cores = os.cpu_count() if cores is None else cores
        return cores - 2 if cores and cores >= 8 else 0
    if not value.isdecimal():
        raise ValueError(f"{PROCESSES_VARIABLE}={value!r}: expected a number of processes, 0 for threads only")
    return int(value)


def loader_options(processes: int | None = None) -> dict:
    """`Batches` keywords: each PyDataset thread waits on one process, so threads to match (today's 4 at least)."""
    processes = loader_processes() if processes is None else processes
    threads = max(4, processes)
    return {"processes": processes, "workers": threads, "max_queue_size": max(16, 2 * threads)}


_MAIN_SWAP = threading.Lock()


class _LeanProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker that imports neither `__main__` nor this module, so neither Keras.

    Under `python -m training.train` a plain spawn would import Keras and its
    backend into every worker (seconds and hundreds of MB each) to run numpy and Pillow.
    """

    @staticmethod
    def _Popen(process_obj):
        with _MAIN_SWAP:
            main, sys.modules["__main__"] = sys.modules["__main__"], types.ModuleType("__main__")
            try:
                return multiprocessing.context.SpawnProcess._Popen(process_obj)
            finally:
                sys.modules["__main__"] = main

    def __reduce__(self):
        return object.__new__, (multiprocessing.context.SpawnProcess,), self.__dict__


class _LeanSpawnContext(multiprocessing.context.SpawnContext):
    Process = _LeanProcess


class Batches(keras.utils.PyDataset):
    """A new order and new augmentations every epoch, reproducible from (seed, epoch, batch index)."""

    def __init__(self, images, labels, batch_size, seed, recipe=None, training=True, processes=0, **kwargs):
        super().__init__(**kwargs)
        self.images, self.labels = images, labels.astype(np.float32)
        self.batch_size, self.recipe, self.training = batch_size, recipe or {}, training
        self.seed, self.epoch = seed, 0
        self.order = self._order()
        # Spawned, never forked: this process runs the backend's threads. Workers start on first use.
        self.pool = (
            ProcessPoolExecutor(
                processes, mp_context=_LeanSpawnContext(), initializer=exit_with_parent, initargs=(os.getpid(),)
            )
            if processes and training
            else None
        )

    def close(self) -> None:
        """Stop the augmentation processes (a no-op without them)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Batches:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

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
            # A generator per batch: worker threads may ask for batches in any order. It pickles with its
            # state, so a pool process draws the very numbers this thread would have.
            rng = np.random.default_rng([self.seed, self.epoch, index])
            if self.pool is None:
                images = augment_batch(images, rng, self.recipe)
            else:
                images = self.pool.submit(augment_batch, images, rng, self.recipe).result()
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
