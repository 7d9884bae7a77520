#!/usr/bin/env bash
# Trains CIFAKE on this machine's CPU with configs/cifake.yaml: ingest -> base model -> train -> evaluate
# -> export (the shipped model was trained on a GPU instead: scripts/train_on_gpu.sh). Resumable: run it
# again after an interruption and training continues from the last finished epoch (state in
# .train_state/cifake). Runs niced so the machine stays usable.
# Usage: scripts/train_cifake.sh [ZIP]   (default ../shared/data/cifake-dev.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
export IMAGEAUTH_PARAMS=configs/cifake.yaml
PY=${PYTHON:-.venv/bin/python}
zip_path=${1:-}
if [ -n "$zip_path" ]; then
  export IMAGEAUTH_PARAMS=$(mktemp --suffix=.yaml)
  sed "s#^  source: .*#  source: ${zip_path}#" configs/cifake.yaml > "$IMAGEAUTH_PARAMS"
fi
mkdir -p logs
run() { echo "== $(date -Is) $*"; nice -n 10 "$PY" -u -m "$@"; }
[ -f data/cifake/test_images.npy ] || run training.ingest
[ -f models/cifake/base_model.keras ] || run training.prepare_base_model
[ -f models/cifake/model.keras ] || run training.train
run training.evaluate
run training.export
echo "== $(date -Is) done"
