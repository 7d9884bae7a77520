"""Training-step throughput in float32 against `mixed_bfloat16`, on this machine, in one run.

Why: whether `train.mixed_precision: true` (the recipe) is fast here depends
on the hardware. With bf16 arithmetic (AMX, AVX512-BF16, a recent GPU) it is
about twice float32; without it oneDNN emulates bf16 and it is several times
slower. This times the train stage's model (VGG16 at 32 px, the dense head,
AdamW, batch 128) for a few steps in each precision, each in a fresh process
(Keras' precision policy is global), after one warm-up epoch:

    nice .venv/bin/python bench/train_step.py     # writes bench/results/train_step.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "train_step.json"

WORKER = """
import json, sys, time
import keras, numpy as np
if sys.argv[1] == "bf16":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
from training.prepare_base_model import build_model
batches, batch_size = int(sys.argv[2]), 128
model = build_model(32, None, 256, 0.3, 0)
model.compile(optimizer=keras.optimizers.AdamW(1e-4), loss="binary_crossentropy")
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (batch_size * batches, 32, 32, 3)).astype(np.float32)
labels = (rng.random(len(images)) > 0.5).astype(np.float32)
model.fit(images[: 2 * batch_size], labels[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(images, labels, batch_size=batch_size, epochs=1, verbose=0)
print(json.dumps({"images_per_second": len(images) / (time.perf_counter() - start)}))
"""


def measure(precision: str, batches: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, precision, str(batches)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'function_app'}", "TF_CPP_MIN_LOG_LEVEL": "2",
             "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="timed batches of 128 per precision")
    arguments = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from precision_check import cpu_has_bf16, read_cpuinfo

    rates = {precision: measure(precision, arguments.batches) for precision in ("float32", "bf16")}
    result = {
        "cpu_has_bf16": cpu_has_bf16(read_cpuinfo()),
        "images_per_second": {key: round(value, 1) for key, value in rates.items()},
        "bf16_over_float32": round(rates["bf16"] / rates["float32"], 2),
    }
    print("| precision | images/s |\n| --- | --- |")
    for precision, rate in result["images_per_second"].items():
        print(f"| {precision} | {rate} |")
    print(f"bf16 / float32: {result['bf16_over_float32']}x (CPU has bf16 instructions: {result['cpu_has_bf16']})")
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
