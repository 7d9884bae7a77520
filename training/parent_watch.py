"""Ends an augmentation worker once the trainer that spawned it is gone.

Why: a trainer killed outright (SIGKILL, the OOM killer, a session that ends)
cannot shut its process pool down, and the workers, which hold both ends of
their call queue, would wait on it forever with their memory. A thread that
polls the parent's pid is portable and safe here; Linux's PR_SET_PDEATHSIG
fires when the spawning *thread* ends, and the pool spawns from Keras' loader
threads. Kept apart from `training.batches` so a worker imports no Keras.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent_pid: int, interval_seconds: float = 1.0) -> None:
    """A pool initializer: start a daemon thread that ends this process when its parent changes."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_seconds)
        os._exit(1)  # no clean-up to run: the work belongs to a trainer that no longer exists

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
