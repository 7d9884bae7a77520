"""Keep a long-running server's memory flat under large uploads (glibc only).

glibc serves allocations above `M_MMAP_THRESHOLD` with mmap and returns them
to the system on free, but it raises that threshold every time such a block
is freed. After a few 4 MB uploads, later ones land in the worker threads'
heaps, which do not shrink: RSS grew 25 % over a 2000-request load test
(docs/reliability.md) without any leak. Pinning the threshold at 1 MiB keeps
every upload-sized buffer on mmap: growth fell to 5 % at the same throughput.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3
UPLOAD_SIZED = 1 << 20


def pin_mmap_threshold(threshold: int = UPLOAD_SIZED) -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return False
    library = ctypes.util.find_library("c")
    if not library:
        return False
    try:
        mallopt = ctypes.CDLL(library).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
