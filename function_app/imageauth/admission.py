"""Admission control: a worker-wide budget for the memory that decodes hold at once.

Every decode first reads its header (`preprocess.open_image`), which tells
what decoding will hold (`OpenedImage.cost`, plus the upload's own bytes);
`admitted` reserves that much of the process's budget for the
duration of the decode and the model call. Files are admitted one at a time,
so each file of a multi-file request counts on its own. A request that finds
no room waits up to `wait_s` seconds; the HTTP API then answers
503 `overloaded` with `Retry-After`, while the blob trigger and the CLI pass
`wait_s=None` and wait as long as it takes (a blob must not fail for being
second in line). One decode larger than the whole budget is admitted alone.

The budget (`IMAGEAUTH_DECODE_BUDGET_BYTES`) is the instance's, divided among
its Functions worker processes (`FUNCTIONS_WORKER_PROCESS_COUNT`); unset, it
is half of the instance's memory (the cgroup limit when there is one, else the
machine's). The rest is the runtime, the model and the uploads in flight.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from imageauth.preprocess import DecodedImage, OpenedImage

CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
BUDGET_SHARE = 0.5
RETRY_AFTER_S = 1


class Overloaded(Exception):
    """No room in the worker's budget (or no time left before the deadline): 503 with Retry-After."""

    def __init__(self, code: str, message: str, retry_after: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = 503
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class DecodeBudget:
    """A counting budget in bytes, shared by the threads of one process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, amount: int, wait_s: float | None) -> Iterator[None]:
        """Hold `amount` bytes of the budget; raise `Overloaded` after `wait_s` seconds without room."""
        amount = min(amount, self.capacity)  # the largest decode still runs, alone
        deadline = None if wait_s is None else time.monotonic() + wait_s
        with self._changed:
            while self.in_use + amount > self.capacity:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Overloaded(
                        "overloaded",
                        "The server is decoding as many images as its memory allows; retry shortly.",
                    )
                self._changed.wait(remaining)
            self.in_use += amount
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= amount
                self._changed.notify_all()


_budgets: dict[int, DecodeBudget] = {}
_budgets_lock = threading.Lock()


def worker_budget(capacity: int) -> DecodeBudget:
    """The process-wide budget of this capacity (one per distinct setting, in practice one)."""
    with _budgets_lock:
        return _budgets.setdefault(capacity, DecodeBudget(capacity))


@contextmanager
def admitted(
    opened: OpenedImage, upload_bytes: int, budget: DecodeBudget, wait_s: float | None
) -> Iterator[DecodedImage]:
    """Decode `opened` once its memory (plus the upload's) is reserved; hold it until the block ends."""
    with ExitStack() as stack:
        stack.callback(opened.close)  # also when no room was found: the header's file is released
        stack.enter_context(budget.reserve(opened.cost + upload_bytes, wait_s))
        yield opened.decode()


def instance_memory_bytes() -> int:
    """The memory this process may use: the cgroup limit if set, else the machine's memory."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in CGROUP_LIMITS:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and 0 < int(raw) < physical:
            return int(raw)
    return physical


def default_decode_budget(largest_decode: int) -> int:
    """Half the instance's memory per worker process, and never less than one largest decode."""
    return max(largest_decode, process_share(int(instance_memory_bytes() * BUDGET_SHARE)) or 0)


def process_share(instance_bytes: int | None) -> int | None:
    """This worker process's share of an instance-wide amount (`FUNCTIONS_WORKER_PROCESS_COUNT` processes)."""
    if instance_bytes is None:
        return None
    raw = os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "").strip()
    processes = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    return instance_bytes // processes
