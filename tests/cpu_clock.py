"""CPU bounds in tests that a busy test session cannot break by itself."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def cpu_clock(clock: Callable[[], float] = time.thread_time) -> Iterator[Callable[[], float]]:
    """Yields a function giving the CPU seconds spent since entry, garbage collection held off.

    A full collection of the session's heap late in a run can land inside a measurement, and a
    whole-process clock counts every thread of the session: a file that costs 0.1-0.2 s alone once
    measured 0.52 s in CI. The default clock counts this thread only; pass `time.process_time` where
    the code measured runs threads of its own (LiteRT's interpreter).
    """
    gc.collect()
    gc.disable()
    started = clock()
    try:
        yield lambda: clock() - started
    finally:
        gc.enable()
