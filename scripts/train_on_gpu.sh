#!/usr/bin/env bash
# Trains CIFAKE on a borrowed GPU machine (no TensorFlow, no network) and sends back the best weights.
# Runs there, from the repository root, with the pack made here by
#   python -m training.pack data/cifake ../shared/data/cifake-dev.zip .gpu/cifake_train_val.npz
# and the wheels of keras, namex, optree and Pillow (the Pillow that ingest used, so decoding gives the same
# pixels; training.pack checks it) in .whl/. Several configurations train side by side on the one GPU; the
# weights of the best one by validation accuracy come back in 15 MB parts (the machine returns at most
# 16 MiB a file), with every run's history in summary.json. Back here:
#   cat weights.part.* > model.weights.h5
#   IMAGEAUTH_PARAMS=configs/cifake_gpu.yaml python -m training.import_run summary.json model.weights.h5
# Usage: scripts/train_on_gpu.sh OUT_DIR [SECONDS]   (each run's budget, compilation included; every run
# plans its epochs from its measured speed. The shipped run did 55 epochs in 245 s, sharing one H100
# with three other runs.)
set -uo pipefail
out=${1:?output folder}
budget=${2:-380}
[ -n "${SKIP_WHEELS:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD:$PWD/function_app PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi"
# Keras on JAX compiles the whole step with XLA; PyTorch is the fallback where this JAX or its GPU plugin
# does not work with this Keras. Each is tried on a two-step fit first.
preflight() {
  KERAS_BACKEND=$1 python3 -c "
import numpy as np, keras
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation='sigmoid')])
model.compile('adam', 'binary_crossentropy')
model.fit(np.zeros((32, 8)), np.zeros(32), batch_size=16, epochs=1, verbose=0)
print('preflight ok:', keras.backend.backend())" 2>&1 | tail -n 3
  return "${PIPESTATUS[0]}"
}
if [ -n "${KERAS_BACKEND:-}" ]; then
  backend=$KERAS_BACKEND
elif python3 -c "import jax, sys; print(jax.devices()); sys.exit(0 if jax.devices()[0].platform == 'gpu' else 1)" \
    && preflight jax; then
  backend=jax
else
  backend=torch
  preflight torch || echo "the torch backend failed its preflight too"
fi
echo "Keras backend: $backend"
export KERAS_BACKEND=$backend XLA_PYTHON_CLIENT_MEM_FRACTION=0.2 TF_CPP_MIN_LOG_LEVEL=2
runs=${RUNS_DIR:-/tmp/imageauth-runs}
rm -rf "$runs"; mkdir -p "$runs"
run() {
  local name=$1; shift
  python3 -m training.train_accelerated --pack "${PACK:-.gpu/cifake_train_val.npz}" --config configs/cifake_gpu.yaml \
    --output-dir "$runs/$name" --time-budget "$budget" "$@" ${EXTRA_ARGS:-} > "$runs/$name.log" 2>&1
  echo "$name exited $?"
}
# Name and overrides of configs/cifake_gpu.yaml, one process each, all sharing the GPU. "shipped" is the
# shipped model's recipe; the others are what to try next (docs/model.md). Every run of the three rounds
# that were made, with its full configuration, is in docs/results/cifake_gpu_runs.json.
variants=(
  "shipped"
  "wd20 --set train.weight_decay=0.2"
  "wd20ema --set train.weight_decay=0.2 --set train.ema_momentum=0.999"
)
for variant in "${variants[@]}"; do
  # shellcheck disable=SC2086  # the overrides are words
  run $variant &
done
wait
python3 - "$out" "$runs" <<'PY'
import json, pathlib, shutil, subprocess, sys
out, root = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
runs = {}
for name in sorted(p.stem for p in root.glob("*.log")):
    folder = root / name
    log = (root / f"{name}.log").read_text()
    runs[name] = {"log_tail": log[-6000:]}
    if (folder / "train.json").exists():
        runs[name]["train"] = json.loads((folder / "train.json").read_text())
        runs[name]["history_csv"] = (folder / "history.csv").read_text()
done = [n for n in runs if "train" in runs[n] and (root / n / "model.weights.h5").exists()]
winner = max(done, key=lambda n: runs[n]["train"]["val_accuracy"]) if done else None
(out / "summary.json").write_text(json.dumps({"winner": winner, "runs": runs}, indent=1))
if winner:
    subprocess.run(["split", "-b", "15M", str(root / winner / "model.weights.h5"), str(out / "weights.part.")], check=True)
print("winner", winner, {n: runs[n].get("train", {}).get("val_accuracy") for n in runs})
PY
