#!/usr/bin/env bash
# The train stage on a borrowed GPU machine: the same training/train.py and params.yaml, Keras 3 on JAX.
# That machine has no TensorFlow, MLflow or DVC, so the stage runs without MLflow (IMAGEAUTH_MLFLOW=off)
# and its output folder comes back here, where training.import_run logs it as an MLflow run.
# Not yet run on a GPU with this trainer: rehearsed on a CPU under a Python with only what the GPU image
# holds (JAX, no TensorFlow, MLflow or DVC), docs/gpu.md. KERAS_BACKEND=torch is the fallback.
#
# Here, before (docs/gpu.md): `dvc repro ingest prepare_base_model`, then `scripts/gpu_prepare.sh prepare`:
# the ingested train/val data as the original JPEG files in .gpu/ (27 MB for CIFAKE; the GPU side
# decodes them with the serving code and checks the pixels against ingest's arrays), the wheels that
# machine lacks in .whl/, and dvc-store/ out of git's index so the tree fits the 64 MiB the device
# tool sends; the call carries .gpu and .whl. Right after it: `scripts/gpu_prepare.sh restore`.
# There:  scripts/train_on_gpu.sh OUT_DIR [SECONDS]
#   SECONDS (default 540) bounds this call. Killed then, training resumes from its last finished epoch
#   the next time this runs on the same machine (its state is in train.state_dir).
# Here, after (OUT_DIR fetched; the weights come in 15 MB parts):
#   cat OUT_DIR/model.weights.h5.part.* > models/model.weights.h5
#   cp OUT_DIR/history.csv OUT_DIR/train.json OUT_DIR/learning_curves.png models/
#   python -m training.import_run models   # an MLflow run; its id goes into models/train.json
#   dvc commit train && dvc repro          # the train stage's outputs into dvc.lock, then evaluate, export
set -euo pipefail
out=${1:?usage: scripts/train_on_gpu.sh OUT_DIR [SECONDS]}
seconds=${2:-540}
pack=${PACK:-.gpu/cifake_train_val.npz}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD:$PWD/function_app PYTHONUNBUFFERED=1 KERAS_BACKEND=${KERAS_BACKEND:-jax} IMAGEAUTH_MLFLOW=off
# Fail now, not after an hour of training, on a missing module (plots come at the very end).
python3 - <<'PY'
import importlib, os, sys
from training.params import load_params
init_from = load_params()["train"].get("init_from") or ""
needed = [os.environ["KERAS_BACKEND"], "keras", "numpy", "PIL", "h5py", "matplotlib", "sklearn"]
needed += ["ai_edge_litert"] if init_from and not init_from.endswith(".h5") else []
missing = []
for name in needed:  # imported, not only found: a wheel whose own dependency is missing fails here
    try:
        importlib.import_module(name)
    except ImportError as error:
        missing.append(f"{name} ({error})")
sys.exit(f"missing here: {', '.join(missing)} (bring their wheels in .whl/)" if missing else 0)
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: is this a GPU machine?"
models=$(python3 -c 'from training.params import load_params; print(load_params()["train"]["output_dir"])')
python3 -m training.prepare_base_model
# The base weights are drawn by numpy from the seed, so this machine's must be the bytes dvc.lock records.
python3 - <<'PY'
import hashlib, sys
import yaml
from training.params import load_params
output = load_params()["prepare_base_model"]["output"]
locked = yaml.safe_load(open("dvc.lock"))["stages"]["prepare_base_model"]["outs"]
expected = next((out["md5"] for out in locked if out["path"] == output), None)
if expected is None:
    sys.exit(f"dvc.lock records no {output}: run `dvc repro prepare_base_model` before packing and sending")
actual = hashlib.md5(open(output, "rb").read()).hexdigest()
sys.exit(f"{output}: md5 {actual}, dvc.lock says {expected}" if actual != expected else 0)
PY
status=0
timeout --signal=KILL "$seconds" python3 -m training.train --pack "$pack" || status=$?
if [ "$status" -ne 0 ]; then
  echo "training stopped (exit $status); run this again on the same machine to continue from the last finished epoch"
  exit "$status"
fi
mkdir -p "$out"
cp "$models/history.csv" "$models/train.json" "$models/learning_curves.png" "$out/"
split -b 15M "$models/model.weights.h5" "$out/model.weights.h5.part."
ls -l "$out"
