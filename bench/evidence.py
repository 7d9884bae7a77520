"""Evidence benchmark: what reading Content Credentials and generator metadata adds to a verdict.

Not a test: run it by hand (niced, on a quiet machine if you can) and record the
table in docs/evidence.md:

    nice .venv/bin/python bench/evidence.py

In one run, against a baseline in the same run:

- **12 MP JPEG without a manifest** (the common upload): `provenance.examine`
  alone, and the whole `predict_bytes` against the pre-evidence pipeline
  (`load_image` + the detector), interleaved so that both see the same machine.
  Target: evidence adds at most 2 ms at p50.
- **12 MP JPEG with a manifest**: `examine` with c2pa-rs validating (it hashes
  the whole file), for the record.
- **Cold start** (process start to first verdict on a 32x32 PNG, median of fresh
  processes): this checkout against the serving code of the commit before
  evidence existed (`git archive`, same model), and this checkout with c2pa
  imported eagerly, to show what the lazy import saves. Target: within 10 %.

Results go to bench/results/evidence.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "evidence.json"
MODEL_DIR = REPO_ROOT / "function_app" / "model"
RUNS = 60
SIGNED_RUNS = 15
COLD_RUNS = 5
TARGETS = {"examine_p50_ms": 2.0, "added_p50_ms": 2.0, "cold_start_ratio": 1.10}


def large_jpeg(signed: bool) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    # The same photo-like 12 MP picture as bench/serving.py, with a camera's EXIF block.
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
    noisy = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (3000, 4000, 3), dtype=np.int16)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Bench Camera Co.", "Model 1", "Firmware 1.0"
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90, exif=exif)
    data = buffer.getvalue()
    if not signed:
        return data
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from credentials import sign

    return sign(data, "image/jpeg", "digitalCapture")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def warm() -> dict:
    """Per-image timings in this process (the checkout's code)."""
    from imageauth.predict import get_detector, predict_bytes, sha256_hex
    from imageauth.preprocess import load_image
    from imageauth.provenance import examine
    from imageauth.settings import Settings

    settings = Settings()
    detector = get_detector(settings)
    plain, signed = large_jpeg(signed=False), large_jpeg(signed=True)

    def baseline() -> None:  # predict_bytes before evidence: decode, preprocess, infer, hash
        image = load_image(plain, detector.image_size, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes)
        detector.predict(image.pixels)
        sha256_hex(plain)

    def timed(function) -> float:
        started = time.perf_counter()
        function()
        return (time.perf_counter() - started) * 1000

    for _ in range(3):
        baseline(), predict_bytes(plain, settings=settings), examine(plain), examine(signed)
    samples: dict[str, list[float]] = {"baseline": [], "predict_bytes": [], "examine": []}
    for _ in range(RUNS):
        samples["baseline"].append(timed(baseline))
        samples["predict_bytes"].append(timed(lambda: predict_bytes(plain, settings=settings)))
        samples["examine"].append(timed(lambda: examine(plain)))
    signed_ms = [timed(lambda: examine(signed)) for _ in range(SIGNED_RUNS)]
    assert examine(plain).evidence == [] and examine(signed).evidence[0]["status"] == "valid"
    report = {name: {"p50_ms": percentile(v, 0.5), "p99_ms": percentile(v, 0.99)} for name, v in samples.items()}
    report["examine_signed"] = {"p50_ms": percentile(signed_ms, 0.5), "p99_ms": percentile(signed_ms, 0.99)}
    report["added_p50_ms"] = report["predict_bytes"]["p50_ms"] - report["baseline"]["p50_ms"]
    report["bytes"] = {"plain": len(plain), "signed": len(signed)}
    return report


COLD_WORKER = """
import sys, time
if sys.argv[2] == "eager":
    import c2pa  # what an eager import would cost
from imageauth.predict import predict_bytes
predict_bytes(open(sys.argv[1], "rb").read())
print("c2pa" in sys.modules, flush=True)
"""


def cold(code_root: Path, image: Path, mode: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(code_root), IMAGEAUTH_MODEL_DIR=str(MODEL_DIR))
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", COLD_WORKER, str(image), mode], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, finished.stdout.strip()


def baseline_ref() -> str:
    """The commit before evidence existed: the parent of the one that added provenance.py."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "function_app/imageauth/provenance.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^"


def cold_starts(ref: str) -> dict:
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="imageauth-bench-") as scratch:
        folder = Path(scratch)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "function_app/imageauth"], cwd=REPO_ROOT, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder / "baseline", filter="data")
        image = folder / "small.png"
        Image.new("RGB", (32, 32), (120, 90, 60)).save(image)
        roots = {"baseline": folder / "baseline" / "function_app", "lazy": REPO_ROOT / "function_app"}
        runs: dict[str, list[float]] = {"baseline": [], "lazy": [], "eager": []}
        loaded: dict[str, str] = {}
        for _ in range(COLD_RUNS):  # interleaved, so that load changes hit all three alike
            for name in runs:
                seconds, loaded[name] = cold(roots.get(name, roots["lazy"]), image, name)
                runs[name].append(seconds)
    report = {name: {"median_s": statistics.median(v), "runs_s": v} for name, v in runs.items()}
    report["c2pa_loaded"] = {name: value == "True" for name, value in loaded.items()}
    report["ratio_lazy_to_baseline"] = report["lazy"]["median_s"] / report["baseline"]["median_s"]
    report["baseline_ref"] = ref
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-ref", help="git revision of the serving code without evidence")
    args = parser.parse_args()
    from tabulate import tabulate

    report = {"load_average_at_start": os.getloadavg(), "cpu_count": os.cpu_count()}
    report["warm"] = warm()
    report["cold"] = cold_starts(args.baseline_ref or baseline_ref())
    report["load_average_at_end"] = os.getloadavg()
    w, c = report["warm"], report["cold"]
    report["targets_met"] = {
        "examine_p50_ms": w["examine"]["p50_ms"] <= TARGETS["examine_p50_ms"],
        "added_p50_ms": w["added_p50_ms"] <= TARGETS["added_p50_ms"],
        "cold_start_ratio": c["ratio_lazy_to_baseline"] <= TARGETS["cold_start_ratio"],
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        ("12 MP JPEG, no manifest: examine()", w["examine"]["p50_ms"], w["examine"]["p99_ms"]),
        ("12 MP JPEG: decode + model + hash (baseline)", w["baseline"]["p50_ms"], w["baseline"]["p99_ms"]),
        ("12 MP JPEG: predict_bytes (with evidence)", w["predict_bytes"]["p50_ms"], w["predict_bytes"]["p99_ms"]),
        ("  added by evidence (p50 difference)", w["added_p50_ms"], None),
        ("12 MP JPEG, signed: examine() (c2pa-rs)", w["examine_signed"]["p50_ms"], w["examine_signed"]["p99_ms"]),
    ]
    print(tabulate(rows, headers=["warm, per image", "p50 (ms)", "p99 (ms)"], floatfmt=".2f", missingval="-"))
    print()
    cold_rows = [(name, c[name]["median_s"], c["c2pa_loaded"][name]) for name in ("baseline", "lazy", "eager")]
    print(tabulate(cold_rows, headers=["cold start", "median (s)", "c2pa loaded"], floatfmt=".3f"))
    print(f"lazy / baseline ({c['baseline_ref']}): {c['ratio_lazy_to_baseline']:.3f}")
    print("targets met:", report["targets_met"])
    print(f"written to {RESULTS_PATH.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
