"""Bounded load test of the local server: concurrency 16, small images and 12-megapixel JPEGs.

    python bench/load.py                      # full run: 2000 requests, 10 % of them 12 MP
    python bench/load.py --smoke              # 300 small-image requests (what the test suite runs)
    python bench/load.py --url http://127.0.0.1:7071   # against a server you started

Without `--url` the script starts `python -m imageauth.serve` on a free
loopback port and stops it at the end. It sends a fixed number of requests
(and stops early at `--time-limit` seconds), measures each request's latency,
and reads the server's resident memory from /proc before and after. "Before"
is taken after a warm-up of 300 requests at the same concurrency and mix, so
the comparison shows growth under load (a leak), not the first allocation of
buffers. glibc's malloc settings change the picture a lot (docs/reliability.md):
the server inherits this script's environment, so for example

    MALLOC_MMAP_THRESHOLD_=1048576 python bench/load.py

measures the server with large buffers always given back to the system.
Results are printed as a table and written to `bench/results/load.json`.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "bench" / "results" / "load.json"
MAX_RSS_GROWTH = 0.10


@dataclass(frozen=True)
class Payload:
    kind: str  # "small" or "12mp"
    filename: str
    data: bytes
    content_type: str


def photo_like(width: int, height: int, seed: int) -> Image.Image:
    """A gradient with noise: compresses like a photograph (a 12 MP JPEG is ~4 MB)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, np.newaxis]
    base = np.stack(np.broadcast_arrays(x, y, (x + y) / 2), axis=-1)
    noisy = base + rng.normal(0, 12, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def make_payloads(with_large: bool) -> list[Payload]:
    small = [
        Payload("small", f"small-{seed}.jpg", encode(photo_like(64, 48, seed), "JPEG", quality=90), "image/jpeg")
        for seed in range(6)
    ] + [
        Payload("small", f"cifake-{seed}.png", encode(photo_like(32, 32, seed), "PNG"), "image/png")
        for seed in range(6, 10)
    ]
    if not with_large:
        return small
    large = [
        Payload("12mp", f"photo-{seed}.jpg", encode(photo_like(4000, 3000, seed), "JPEG", quality=90), "image/jpeg")
        for seed in (100, 101)
    ]
    return small + large


def schedule(payloads: list[Payload], count: int, large_fraction: float, seed: int) -> list[Payload]:
    """`count` payloads in a fixed random order with the requested share of 12 MP images."""
    rng = random.Random(seed)
    small = [p for p in payloads if p.kind == "small"]
    large = [p for p in payloads if p.kind == "12mp"]
    return [rng.choice(large) if large and rng.random() < large_fraction else rng.choice(small) for _ in range(count)]


async def send_all(url: str, plan: list[Payload], concurrency: int, time_limit: float) -> list[dict]:
    """Send `plan` with `concurrency` workers; stop issuing new requests after `time_limit` seconds."""
    records: list[dict] = []
    queue = iter(enumerate(plan))
    deadline = time.monotonic() + time_limit
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0)) as client:

        async def worker() -> None:
            for _, payload in queue:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                record = {"kind": payload.kind, "status": None, "error": None}
                try:
                    response = await client.post(
                        f"{url}/api/predict",
                        files={"file": (payload.filename, payload.data, payload.content_type)},
                    )
                    record["status"] = response.status_code
                    if response.status_code != 200:
                        record["error"] = response.text[:200]
                except httpx.HTTPError as error:
                    record["error"] = f"{type(error).__name__}: {error}"
                record["seconds"] = time.perf_counter() - started
                records.append(record)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return records


def summarise(records: list[dict], wall_seconds: float) -> dict:
    summary = {}
    for kind in ("all", "small", "12mp"):
        chosen = [r for r in records if kind == "all" or r["kind"] == kind]
        if not chosen:
            continue
        latencies = np.array([r["seconds"] for r in chosen]) * 1000
        summary[kind] = {
            "requests": len(chosen),
            "errors": sum(r["error"] is not None for r in chosen),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "max_ms": round(float(latencies.max()), 1),
        }
    summary["all"]["throughput_rps"] = round(len(records) / wall_seconds, 1)
    return summary


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def machine() -> dict:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(),
        "malloc_environment": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "platform": platform.platform(),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "imageauth.serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=REPO, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not become healthy within 60 s")


def run(
    url: str,
    pid: int | None,
    requests: int,
    concurrency: int = 16,
    large_fraction: float = 0.1,
    time_limit: float = 600.0,
    warmup: int = 300,
    seed: int = 0,
) -> dict:
    """Warm up, measure, and return the summary (what `main` prints and writes)."""
    payloads = make_payloads(with_large=large_fraction > 0)
    asyncio.run(send_all(url, schedule(payloads, warmup, large_fraction, seed + 1), concurrency, time_limit))
    rss_before = memory_kib(pid) if pid else None
    started = time.perf_counter()
    records = asyncio.run(send_all(url, schedule(payloads, requests, large_fraction, seed), concurrency, time_limit))
    wall = time.perf_counter() - started
    rss_after = memory_kib(pid) if pid else None
    summary = summarise(records, wall)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "requests": requests,
            "concurrency": concurrency,
            "large_fraction": large_fraction,
            "time_limit_s": time_limit,
            "warmup_requests": warmup,
            "payload_bytes": {p.filename: len(p.data) for p in payloads},
        },  # fmt: skip
        "wall_seconds": round(wall, 2),
        "completed": len(records),
        "latency": summary,
        "error_samples": [r["error"] for r in records if r["error"]][:5],
    }
    if pid:
        result["rss_kib"] = {
            "before": rss_before,
            "after": rss_after,
            "growth_pct": round(100 * (rss_after - rss_before) / rss_before, 2),
            "peak": memory_kib(pid, "VmHWM"),
        }
    return result


def print_table(result: dict) -> None:
    rows = [
        [kind, stats["requests"], stats["errors"], stats["p50_ms"], stats["p99_ms"], stats["max_ms"]]
        for kind, stats in result["latency"].items()
    ]
    header = ["images", "requests", "errors", "p50 ms", "p99 ms", "max ms"]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(line, widths, strict=True)))
    print(f"throughput: {result['latency']['all']['throughput_rps']} requests/s over {result['wall_seconds']} s")
    if "rss_kib" in result:
        rss = result["rss_kib"]
        print(
            f"server RSS: {rss['before'] / 1024:.1f} MiB -> {rss['after'] / 1024:.1f} MiB "
            f"({rss['growth_pct']:+.1f} %), peak {rss['peak'] / 1024:.1f} MiB"
        )
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cpus']} CPUs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (default: start one on a free loopback port)")
    parser.add_argument("--pid", type=int, help="the running server's process id, for its memory")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--large-fraction", type=float, default=0.1, help="share of 12 MP images")
    parser.add_argument("--time-limit", type=float, default=600.0, help="stop issuing requests after this")
    parser.add_argument("--warmup", type=int, default=300, help="requests before the first memory reading")
    parser.add_argument("--smoke", action="store_true", help="300 small-image requests")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.smoke:
        args.requests, args.large_fraction, args.warmup = 300, 0.0, 64
    process = None
    url, pid = args.url, args.pid
    if url is None:
        process, url = start_server()
        pid = process.pid
    elif not url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("only loopback servers are load-tested")
    try:
        result = run(url, pid, args.requests, args.concurrency, args.large_fraction, args.time_limit, args.warmup)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {args.output}")
    errors = result["latency"]["all"]["errors"]
    growth = result.get("rss_kib", {}).get("growth_pct", 0.0)
    return 1 if errors or growth > 100 * MAX_RSS_GROWTH else 0


if __name__ == "__main__":
    sys.exit(main())
