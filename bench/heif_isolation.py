"""What decoding HEIC in a child process costs: the same files in-process against through the child.

HEIC is decoded in a child process (imageauth/heif_process.py) because its
decoder crashed on fuzzed input. This measures the price, in one run:
`load_image` in this process (as the child itself runs it) against
`load_image` from the server's side (the upload piped to the child, the
32x32 input piped back), interleaved, on a 12 MP photo-like HEIC and a
small one, plus the first call's cost of starting the child.

    nice .venv/bin/python bench/heif_isolation.py

Results go to bench/results/heif_isolation.json.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "heif_isolation.json"
RUNS = 30


def photo_like_heic(width: int, height: int) -> bytes:
    import pillow_heif  # a dev package: serving's pi-heif only decodes

    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(base, dtype=np.int16) + rng.integers(-12, 13, (height, width, 3), dtype=np.int16)
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))).save(buffer, quality=80)
    return buffer.getvalue()


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    sys.path.insert(0, str(REPO_ROOT / "function_app"))
    from imageauth import heif_process
    from imageauth.preprocess import load_image

    files = {"12 MP (4000x3000)": photo_like_heic(4000, 3000), "small (640x480)": photo_like_heic(640, 480)}
    first_call = timed(lambda: load_image(files["small (640x480)"], 32))  # starts the child
    report: dict = {"runs": RUNS, "first_call_s": first_call, "files": {}}
    for name, data in files.items():
        samples: dict[str, list[float]] = {"in_process": [], "child": []}
        for _ in range(RUNS):
            heif_process.IN_CHILD = True
            samples["in_process"].append(timed(lambda data=data: load_image(data, 32)))
            heif_process.IN_CHILD = False
            samples["child"].append(timed(lambda data=data: load_image(data, 32)))
        medians = {key: statistics.median(values) * 1000 for key, values in samples.items()}
        report["files"][name] = {
            "bytes": len(data),
            "p50_ms": medians,
            "ratio": medians["child"] / medians["in_process"],
        }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(f"first HEIC of a worker (starts the child): {first_call * 1000:.0f} ms")
    print(f"{'file':<20}{'bytes':>10}{'in-process ms':>15}{'child ms':>10}{'ratio':>7}")
    for name, row in report["files"].items():
        p50 = row["p50_ms"]
        print(f"{name:<20}{row['bytes']:>10}{p50['in_process']:>15.1f}{p50['child']:>10.1f}{row['ratio']:>7.2f}")


if __name__ == "__main__":
    main()
