"""Training-step and prediction throughput by precision and by TensorFlow's oneDNN switch, in one run.

Why: two settings decide how fast the train and evaluate stages run on a CPU.
`train.mixed_precision: true` (the recipe) is about twice float32 where the
hardware has bf16 arithmetic (AMX, AVX512-BF16, a recent GPU) and several
times slower where oneDNN has to emulate it. And TensorFlow turns oneDNN on by
itself only on CPUs with AVX512-VNNI/BF16 or AMX; on an AVX2-only CPU it uses
Eigen unless `TF_ENABLE_ONEDNN_OPTS=1` (which `./dev` now sets).
This times the train stage's model (VGG16 at 32 px, the dense head, AdamW,
batch 128) for a few steps and one prediction pass in each combination, each in
a fresh process (the precision policy is global, the switch is read at import),
after a warm-up; oneDNN off is the baseline:

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
COMBINATIONS = [("float32", "0"), ("float32", "1"), ("bf16", "0"), ("bf16", "1")]

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
trained = len(images) / (time.perf_counter() - start)
model.predict(images[:batch_size], batch_size=256, verbose=0)
start = time.perf_counter()
model.predict(images, batch_size=256, verbose=0)
print(json.dumps({"train": trained, "predict": len(images) / (time.perf_counter() - start)}))
"""


def measure(precision: str, onednn: str, batches: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, precision, str(batches)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'function_app'}", "TF_CPP_MIN_LOG_LEVEL": "2",
             "TF_ENABLE_ONEDNN_OPTS": onednn, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=6, help="timed batches of 128 per combination")
    arguments = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from precision_check import cpu_has_bf16, read_cpuinfo

    rows = []
    for precision, onednn in COMBINATIONS:
        rates = measure(precision, onednn, arguments.batches)
        rows.append({"precision": precision, "onednn": onednn == "1", **{k: round(v, 1) for k, v in rates.items()}})
    baseline = rows[0]  # float32 without oneDNN: TensorFlow's own choice on an AVX2-only CPU
    for row in rows:
        row["train_ratio"] = round(row["train"] / baseline["train"], 2)
        row["predict_ratio"] = round(row["predict"] / baseline["predict"], 2)
    print("| precision | oneDNN | train images/s | vs baseline | predict images/s | vs baseline |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['precision']} | {'on' if row['onednn'] else 'off'} | {row['train']} | {row['train_ratio']}x "
            f"| {row['predict']} | {row['predict_ratio']}x |"
        )
    result = {"cpu_has_bf16": cpu_has_bf16(read_cpuinfo()), "batches": arguments.batches, "rows": rows}
    print(f"CPU has bf16 instructions: {result['cpu_has_bf16']}")
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
