"""Bytecode benchmark: cold start of the deploy package with and without precompiled .pyc files.

Not a test: run it by hand (niced, on a quiet machine if you can):

    nice .venv/bin/python bench/bytecode.py

Why: Azure mounts the package read-only, so Python cannot write the bytecode it
compiles, and without .pyc files in the zip every cold start compiles every
module it imports (numpy, Pillow, FastAPI, azure-functions, imageauth). This
builds the package as the deploy workflow does (bench/deploy_package.py), then
times fresh processes run with `-B` (nothing written, as on the mount) that see
only the package, from start to the first verdict on a
32x32 PNG: first without bytecode (the baseline), then after the workflow's
`compileall --invalidation-mode unchecked-hash`, interleaved run by run on
two copies. Results go to bench/results/bytecode.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

from deploy_package import REPO, build, compile_bytecode, run_isolated

RUNS = 7
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


def cold_start(package: Path) -> float:
    return float(run_isolated(package, PROBE).split()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        plain, compiled = Path(folder) / "plain", Path(folder) / "compiled"
        build(plain)
        shutil.copytree(plain, compiled, symlinks=True)
        compile_bytecode(compiled)
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
