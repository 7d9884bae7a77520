"""Bytecode benchmark: cold start of the deploy package with and without precompiled .pyc files.

Not a test: run it by hand (niced, on a quiet machine if you can):

    nice .venv/bin/python bench/bytecode.py

Why: Azure mounts the package read-only, so Python cannot write the bytecode it
compiles, and without .pyc files in the zip every cold start compiles every
module it imports (numpy, Pillow, FastAPI, azure-functions, imageauth). This
builds the package as the deploy workflow does (`function_app/` plus
`scripts/install_package_deps.py`, pruned), then times fresh processes run with `-B`
(nothing written, as on the mount) from start to the first verdict on a
32x32 PNG: first without bytecode (the baseline), then after the workflow's
`compileall --invalidation-mode unchecked-hash`, interleaved run by run on
two copies. Results go to bench/results/bytecode.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = Path(".python_packages") / "lib" / "site-packages"
RUNS = 7
COMPILE = ["-m", "compileall", "-q", "-f", "-j", "0", "--invalidation-mode", "unchecked-hash", "."]
# Start to first verdict, as the Functions host would: import function_app, then one prediction.
PROBE = """
import io, sys, time
start = time.perf_counter()
sys.path[:0] = sys.argv[1:3]
import function_app
from imageauth.predict import predict_bytes
from imageauth.settings import Settings
from PIL import Image
image = io.BytesIO()
Image.new("RGB", (32, 32), (120, 30, 200)).save(image, "PNG")
predict_bytes(image.getvalue(), "probe.png", Settings())
print(time.perf_counter() - start)
"""


def build(target: Path) -> None:
    shutil.copytree(REPO / "function_app", target, ignore=shutil.ignore_patterns("__pycache__", "local.settings.json"))
    # The deploy workflow's own install: wheels for the runtime's Python and glibc.
    install = [sys.executable, str(REPO / "scripts" / "install_package_deps.py")]
    subprocess.run([*install, str(target / "requirements.txt"), str(target / PACKAGES)], check=True)
    subprocess.run([sys.executable, str(REPO / "scripts" / "prune_packages.py"), str(target / PACKAGES)], check=True)


def cold_start(package: Path) -> float:
    command = [sys.executable, "-I", "-B", "-c", PROBE, str(package), str(package / PACKAGES)]
    return float(subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        plain, compiled = Path(folder) / "plain", Path(folder) / "compiled"
        build(plain)
        shutil.copytree(plain, compiled, symlinks=True)
        subprocess.run([sys.executable, *COMPILE], cwd=compiled, check=True)
        pyc_bytes = sum(path.stat().st_size for path in compiled.rglob("*.pyc"))
        runs: dict[str, list[float]] = {"without bytecode": [], "with bytecode": []}
        cold_start(plain), cold_start(compiled)  # page cache warm for both
        for _ in range(RUNS):
            runs["without bytecode"].append(cold_start(plain))
            runs["with bytecode"].append(cold_start(compiled))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratio = medians["without bytecode"] / medians["with bytecode"]
    print(f"{'cold start, start to first verdict':<36}{'median (s)':>12}{'min (s)':>10}")
    for name, values in runs.items():
        print(f"{name:<36}{medians[name]:>12.3f}{min(values):>10.3f}")
    print(f"with bytecode: {ratio:.2f}x faster; .pyc files add {pyc_bytes / 2**20:.1f} MiB before zipping")
    result = {"runs_s": runs, "median_s": medians, "speedup": ratio, "pyc_bytes": pyc_bytes}
    output = REPO / "bench" / "results" / "bytecode.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {output.relative_to(REPO)}")


if __name__ == "__main__":
    main()
