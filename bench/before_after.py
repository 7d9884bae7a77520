"""Before/after, in one run: the serving path of a git revision against the working tree.

Issue 15 bounded every decode (header checks, banded conversion, admission);
this checks that ordinary uploads did not pay for it. Both code trees run in
fresh processes of their own, interleaved, on the same files and the same
model (the working tree's), so a busy machine slows both alike:

    nice .venv/bin/python bench/before_after.py --before 48faac3

Measured per tree: cold start (process start to first verdict on the 12 MP
JPEG, median of `--cold` fresh processes, wall and CPU time) and warm 12 MP
JPEG latency (median of `--runs` calls in one process, wall and CPU time),
both for `predict_bytes` (the whole path) and for `load_image` (the decode
alone). CPU time is the honest figure on a shared machine. Results go to
bench/results/before_after.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from tabulate import tabulate

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "before_after.json"
MODEL_DIR = REPO_ROOT / "function_app" / "model"

WORKER = """
import json, sys, time
cpu0 = time.process_time()
from imageauth.predict import predict_bytes
from imageauth.preprocess import load_image
data = open(sys.argv[1], "rb").read()
predict_bytes(data)
cold_cpu = time.process_time() - cpu0
runs = int(sys.argv[2])
out = {"cold_cpu": cold_cpu, "predict_wall": [], "predict_cpu": [], "decode_wall": [], "decode_cpu": []}
for _ in range(runs):
    for name, call in (("predict", lambda: predict_bytes(data)), ("decode", lambda: load_image(data, 32))):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        out[name + "_wall"].append(time.perf_counter() - wall)
        out[name + "_cpu"].append(time.process_time() - cpu)
print(json.dumps(out))
"""


def make_jpeg(path: Path) -> None:
    """The 12 MP photo-like JPEG of bench/serving.py (same recipe, same seed)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
    noisy = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (3000, 4000, 3), dtype=np.int16)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)


def export_tree(revision: str, target: Path) -> Path:
    """`function_app/` of `revision`, unpacked under `target` (git archive; the checkout is untouched)."""
    archive = subprocess.run(
        ["git", "archive", revision, "function_app"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "function_app"


def run_worker(app_dir: Path, jpeg: Path, runs: int) -> tuple[float, dict]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGEAUTH_")}
    env.update(PYTHONPATH=str(app_dir), IMAGEAUTH_MODEL_DIR=str(MODEL_DIR))
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", WORKER, str(jpeg), str(runs)], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, json.loads(completed.stdout)


def measure(trees: dict[str, Path], jpeg: Path, cold: int, runs: int) -> dict:
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    for index in range(cold):
        order = list(trees) if index % 2 == 0 else list(reversed(trees))
        for name in order:
            # The first process of each tree also runs the warm loop; the others only start and answer once.
            wall, out = run_worker(trees[name], jpeg, runs if index == 0 else 0)
            record = samples[name]
            record.setdefault("cold_wall", []).append(wall)
            record.setdefault("cold_cpu", []).append(out["cold_cpu"])
            for key in ("predict_wall", "predict_cpu", "decode_wall", "decode_cpu"):
                record.setdefault(key, []).extend(out[key])
    return {
        name: {key: round(statistics.median(values) * 1000, 1) for key, values in record.items()}
        for name, record in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="HEAD", help="git revision to compare against (default: HEAD)")
    parser.add_argument("--cold", type=int, default=7, help="fresh processes per tree")
    parser.add_argument("--runs", type=int, default=30, help="warm 12 MP calls per tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        jpeg = Path(folder) / "large.jpg"
        make_jpeg(jpeg)
        trees = {"before": export_tree(args.before, Path(folder) / "before"), "after": REPO_ROOT / "function_app"}
        medians = measure(trees, jpeg, args.cold, args.runs)
    report = {
        "before": args.before,
        "unit": "ms (medians)",
        "medians": medians,
        "change_percent": {
            key: round(100 * (medians["after"][key] / medians["before"][key] - 1), 1) for key in medians["after"]
        },
    }
    changes = report["change_percent"].items()
    rows = [[key, medians["before"][key], medians["after"][key], f"{change}%"] for key, change in changes]
    save_report(report, RESULTS_PATH, ["median, ms", "before", "after", "change"], rows)


def save_report(report: dict, path: Path, headers: list[str], rows: list[list]) -> None:
    """Write the JSON that docs cite and later runs compare with, then print the table a person reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(tabulate(rows, headers=headers, floatfmt=".3f"))


if __name__ == "__main__":
    main()
