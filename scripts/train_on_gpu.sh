#!/usr/bin/env bash
# The train stage on a borrowed GPU machine: the same training/train.py and params.yaml, Keras 3 on JAX.
# That machine has no TensorFlow, MLflow or DVC, so the stage runs without MLflow (IMAGEAUTH_MLFLOW=off)
# and its output folder comes back here, where training.import_run logs it as an MLflow run.
# UNTESTED on a GPU: written for the single trainer when no GPU machine was available to try it on
# (tried on a CPU with KERAS_BACKEND=tensorflow and a small pack; KERAS_BACKEND=torch is the fallback).
#
# Here, before: the ingested train/val data as the original JPEG files (27 MB for CIFAKE; the GPU side
# decodes them with the serving code and checks the pixels against ingest's arrays):
#   python -m training.pack data/prepared ../shared/data/cifake-dev.zip .gpu/cifake_train_val.npz
# and, for what that machine lacks, wheels in .whl/ (Keras, namex, optree, the Pillow ingest used,
# PyYAML, h5py, matplotlib, scikit-learn; ai-edge-litert when train.init_from is an exported model).
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
import importlib.util, os, sys
from training.params import load_params
init_from = load_params()["train"].get("init_from") or ""
needed = [os.environ["KERAS_BACKEND"], "keras", "numpy", "PIL", "h5py", "matplotlib", "sklearn"]
needed += ["ai_edge_litert"] if init_from and not init_from.endswith(".h5") else []
missing = [name for name in needed if importlib.util.find_spec(name) is None]
sys.exit(f"missing here: {', '.join(missing)} (bring their wheels in .whl/)" if missing else 0)
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi: is this a GPU machine?"
models=$(python3 -c 'from training.params import load_params; print(load_params()["train"]["output_dir"])')
python3 -m training.prepare_base_model
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
