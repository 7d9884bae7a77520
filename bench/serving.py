"""Serving benchmark: imageauth's LiteRT path against what the seed's Flask app did.

Not a test: run it by hand (niced, on a quiet machine if you can) and record
the table in docs/serving.md:

    nice .venv/bin/python bench/serving.py

Both systems get the same image files and run in fresh processes of their own:

- **litert** (this project): `imageauth.predict.predict_bytes`, i.e. Pillow
  decode (JPEG draft mode) + the shared preprocessing + the quantized TFLite
  model under LiteRT. No TensorFlow import.
- **keras** (the seed's way): TensorFlow loads a Keras VGG16 model from a
  `.keras` file, then `keras.utils.load_img(path, target_size=(32, 32))` and
  `model.predict` per image. The model is `training.prepare_base_model.build_model`
  with the project's parameters (untrained: speed does not depend on the weights).

Measured: cold start (process start to first verdict, median of several
fresh processes), warm latency p50/p99 for a 12-megapixel JPEG and a 32x32 PNG,
single-process throughput on 32x32 PNGs (CIFAKE's format), peak RSS of the
warm process, and the deployable size (the installed distributions each needs
plus the model). Results go to bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "serving.json"
FUNCTION_APP_DIR = REPO_ROOT / "function_app"
SYSTEMS = ("litert", "keras")
COLD_RUNS = 3
LARGE_RUNS = 30
SMALL_RUNS = 200
THROUGHPUT_FILES = 200
WARMUP_RUNS = 3
TARGETS = {"cold_start_speedup": 10.0, "large_p50_speedup": 8.0, "litert_peak_rss_mb": 300.0}


# --- inside a worker process: one system, loaded once -------------------------------------------------


def load_system(system: str, keras_model: Path):
    """A `predict(path) -> probability` function for `system`, with its model loaded."""
    if system == "litert":
        from imageauth.predict import predict_bytes

        return lambda path: predict_bytes(Path(path).read_bytes())["probability_fake"]
    import keras
    import numpy as np

    import training.layers  # noqa: F401 - registers the model's custom layer for loading

    model = keras.models.load_model(keras_model)

    def predict(path: str) -> float:
        image = keras.utils.load_img(path, target_size=(32, 32))
        batch = np.expand_dims(keras.utils.img_to_array(image), 0)
        return float(model.predict(batch, verbose=0)[0][0])

    return predict


def worker(system: str, mode: str, images: Path, keras_model: Path) -> None:
    predict = load_system(system, keras_model)
    if mode == "cold":
        predict(str(images / "small.png"))
        print("verdict", flush=True)
        return
    report = {
        "large_ms": timed(predict, str(images / "large.jpg"), LARGE_RUNS),
        "small_ms": timed(predict, str(images / "small.png"), SMALL_RUNS),
    }
    files = sorted(str(path) for path in (images / "many").iterdir())
    started = time.perf_counter()
    for path in files:
        predict(path)
    report["throughput_per_s"] = len(files) / (time.perf_counter() - started)
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report), flush=True)


def timed(predict, path: str, runs: int) -> list[float]:
    for _ in range(WARMUP_RUNS):
        predict(path)
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        predict(path)
        durations.append((time.perf_counter() - started) * 1000)
    return durations


# --- in the driver: inputs, fresh processes, sizes, the table --------------------------------------------


def make_images(folder: Path) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    # A photo-like 12 MP picture: smooth shapes plus sensor-like noise, so JPEG has real work to do.
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
    noisy = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (3000, 4000, 3), dtype=np.int16)
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(folder / "large.jpg", quality=90)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / "small.png")
    (folder / "many").mkdir()
    for index in range(THROUGHPUT_FILES):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "many" / f"{index:04d}.png")


def build_keras_model(target: Path) -> None:
    code = (
        "import sys\n"
        "from training.prepare_base_model import build_model\n"
        "build_model(32, None, 256, 0.3, 42).save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO_ROOT, env=worker_env(), check=True)


def worker_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")


def run_worker(system: str, mode: str, images: Path, keras_model: Path) -> tuple[float, str]:
    """Seconds from process start to the worker's first output line, and that line."""
    command = [sys.executable, __file__, "--worker", system, mode, str(images), str(keras_model)]
    started = time.perf_counter()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed = time.perf_counter() - started
        process.wait()
    if process.returncode != 0 or not line:
        raise RuntimeError(f"{system} {mode} worker failed with {process.returncode}")
    return elapsed, line


def installed_size(requirements: list[str]) -> int:
    """Bytes on disk of the installed distributions `requirements` need, dependencies included."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = list(requirements)
    total = 0
    while pending:
        requirement = Requirement(pending.pop())
        name = requirement.name.lower().replace("_", "-")
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in distribution.files or []:
            path = Path(distribution.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
        pending.extend(distribution.requires or [])
    return total


def folder_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and "__pycache__" not in file.parts)


def deploy_sizes(keras_model: Path) -> dict[str, float]:
    requirements = [
        line.strip()
        for line in (FUNCTION_APP_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    litert = installed_size(requirements) + folder_size(FUNCTION_APP_DIR)
    # The seed shipped Flask + TensorFlow + Pillow + the Keras model (Flask itself is ~1 MB, not counted).
    keras = installed_size(["tensorflow-cpu", "pillow"]) + keras_model.stat().st_size
    return {"litert": litert / 2**20, "keras": keras / 2**20}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(images: Path, keras_model: Path) -> dict:
    results: dict = {"systems": {}}
    for system in SYSTEMS:
        cold = [run_worker(system, "cold", images, keras_model)[0] for _ in range(COLD_RUNS)]
        _, line = run_worker(system, "warm", images, keras_model)
        warm = json.loads(line)
        results["systems"][system] = {
            "cold_start_s": statistics.median(cold),
            "cold_start_runs_s": cold,
            "large_p50_ms": percentile(warm["large_ms"], 0.5),
            "large_p99_ms": percentile(warm["large_ms"], 0.99),
            "small_p50_ms": percentile(warm["small_ms"], 0.5),
            "small_p99_ms": percentile(warm["small_ms"], 0.99),
            "throughput_per_s": warm["throughput_per_s"],
            "peak_rss_mb": warm["peak_rss_mb"],
        }
        print(f"{system}: done", file=sys.stderr, flush=True)
    for system, size in deploy_sizes(keras_model).items():
        results["systems"][system]["deploy_mb"] = size
    return results


def summarise(results: dict) -> dict:
    ours, seed = results["systems"]["litert"], results["systems"]["keras"]
    ratios = {
        "cold_start_speedup": seed["cold_start_s"] / ours["cold_start_s"],
        "large_p50_speedup": seed["large_p50_ms"] / ours["large_p50_ms"],
        "large_p99_speedup": seed["large_p99_ms"] / ours["large_p99_ms"],
        "small_p50_speedup": seed["small_p50_ms"] / ours["small_p50_ms"],
        "throughput_gain": ours["throughput_per_s"] / seed["throughput_per_s"],
        "rss_reduction": seed["peak_rss_mb"] / ours["peak_rss_mb"],
        "deploy_size_reduction": seed["deploy_mb"] / ours["deploy_mb"],
    }
    met = {
        "cold_start_speedup": ratios["cold_start_speedup"] >= TARGETS["cold_start_speedup"],
        "large_p50_speedup": ratios["large_p50_speedup"] >= TARGETS["large_p50_speedup"],
        "litert_peak_rss_mb": ours["peak_rss_mb"] <= TARGETS["litert_peak_rss_mb"],
    }
    return {"ratios": ratios, "targets": TARGETS, "targets_met": met}


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg(),
    }


def print_table(report: dict) -> None:
    from tabulate import tabulate

    ours, seed, ratios = report["systems"]["litert"], report["systems"]["keras"], report["ratios"]
    rows = [
        ("cold start (s)", seed["cold_start_s"], ours["cold_start_s"], ratios["cold_start_speedup"]),
        ("12 MP JPEG p50 (ms)", seed["large_p50_ms"], ours["large_p50_ms"], ratios["large_p50_speedup"]),
        ("12 MP JPEG p99 (ms)", seed["large_p99_ms"], ours["large_p99_ms"], ratios["large_p99_speedup"]),
        ("32x32 PNG p50 (ms)", seed["small_p50_ms"], ours["small_p50_ms"], ratios["small_p50_speedup"]),
        ("32x32 PNG p99 (ms)", seed["small_p99_ms"], ours["small_p99_ms"], seed["small_p99_ms"] / ours["small_p99_ms"]),
        ("throughput (img/s)", seed["throughput_per_s"], ours["throughput_per_s"], ratios["throughput_gain"]),
        ("peak RSS (MB)", seed["peak_rss_mb"], ours["peak_rss_mb"], ratios["rss_reduction"]),
        ("deployable (MiB)", seed["deploy_mb"], ours["deploy_mb"], ratios["deploy_size_reduction"]),
    ]
    print(tabulate(rows, headers=["", "seed (Keras/TF)", "imageauth (LiteRT)", "ratio"], floatfmt=".1f"))
    print("targets met:", report["targets_met"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=4, metavar=("SYSTEM", "MODE", "IMAGES", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        system, mode, images, keras_model = args.worker
        worker(system, mode, Path(images), Path(keras_model))
        return
    report = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="imageauth-bench-") as scratch:
        folder = Path(scratch)
        make_images(folder)
        keras_model = folder / "vgg16.keras"
        build_keras_model(keras_model)
        report |= measure(folder, keras_model)
    report |= summarise(report)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"written to {RESULTS_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
