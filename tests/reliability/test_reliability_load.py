"""A short version of `bench/load.py` in the test suite: 300 small images at concurrency 16.

The full benchmark (2000 requests with 12-megapixel images) is not a test;
its command and latest figures are in docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from reliability_helpers import REPO

pytestmark = pytest.mark.timeout(180)


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", REPO / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_smoke_load_has_no_errors_and_flat_memory(api_server):
    bench = load_bench()
    result = bench.run(
        api_server.base_url,
        api_server.process.pid,
        requests=300,
        concurrency=16,
        large_fraction=0.0,
        time_limit=120,
        warmup=64,
    )
    assert result["completed"] == 300
    assert result["latency"]["all"]["errors"] == 0, result["error_samples"]
    assert result["rss_kib"]["growth_pct"] <= 100 * bench.MAX_RSS_GROWTH, result["rss_kib"]
