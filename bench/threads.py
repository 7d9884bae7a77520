"""Threads or processes: how to spend an instance's cores on LiteRT (`IMAGEAUTH_NUM_THREADS`).

A Functions instance can use its vCPUs two ways: one worker process whose
interpreter runs on several threads (`IMAGEAUTH_NUM_THREADS`), or several
worker processes (`FUNCTIONS_WORKER_PROCESS_COUNT`) of one thread each. This
runs the shipped model on 32x32 inputs (CIFAKE's size) for a fixed time in
each arrangement and reports images per second (wall) and per CPU-second:

    nice .venv/bin/python bench/threads.py          # writes bench/results/threads.json

Every arrangement runs `--rounds` times, interleaved, and the medians are
reported, so a machine busy with other work slows each of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "threads.json"
# (processes, threads per process)
ARRANGEMENTS = ((1, 1), (1, 2), (2, 1))

WORKER = """
import json, sys, time
import numpy as np
from imageauth.model import Detector
threads, seconds = int(sys.argv[1]), float(sys.argv[2])
detector = Detector.from_dir(num_threads=threads)
pixels = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
for index in range(20):
    detector.predict(pixels[index])
count, wall, cpu = 0, time.perf_counter(), time.process_time()
while time.perf_counter() - wall < seconds:
    detector.predict(pixels[count % 64])
    count += 1
print(json.dumps({"images": count, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""


def run(processes: int, threads: int, seconds: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "function_app"))
    command = [sys.executable, "-c", WORKER, str(threads), str(seconds)]
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [json.loads(worker.communicate()[0]) for worker in workers]
    return {
        "images_per_s": sum(result["images"] / result["wall"] for result in results),
        "images_per_cpu_s": sum(result["images"] for result in results) / sum(result["cpu"] for result in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    samples: dict[str, list[dict]] = {f"{p} process x {t} thread": [] for p, t in ARRANGEMENTS}
    for _ in range(args.rounds):
        for processes, threads in ARRANGEMENTS:
            samples[f"{processes} process x {threads} thread"].append(run(processes, threads, args.seconds))
    medians = {
        name: {key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]}
        for name, runs in samples.items()
    }
    report = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "load": os.getloadavg()},
        "seconds": args.seconds,
        "rounds": args.rounds,
        "medians": medians,
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'arrangement':<22}{'images/s':>10}{'per CPU-s':>11}")
    for name, values in medians.items():
        print(f"{name:<22}{values['images_per_s']:>10}{values['images_per_cpu_s']:>11}")


if __name__ == "__main__":
    main()
