#!/usr/bin/env bash
# Runs the real DVC pipeline (demo_data -> ingest -> prepare_base_model -> train -> evaluate -> export) on the
# small generated demo dataset, in a scratch copy of this repository, with the demo override set of
# configs/demo.yaml passed to `dvc exp run -S`; ends with `dvc metrics show`. A few minutes on 2 cores.
# Usage: scripts/pipeline_demo.sh [SCRATCH_DIR]   (default: a new temporary folder, kept and printed)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
scratch=${1:-$(mktemp -d "${TMPDIR:-/tmp}/imageauth-demo.XXXXXX")}
mkdir -p "$scratch"
# What the stages read, nothing else: the shipped model, dvc-store and the tests stay behind.
for path in training function_app/imageauth dvc.yaml params.yaml configs/demo.yaml .dvc/config .dvcignore .gitignore; do
  mkdir -p "$scratch/$(dirname "$path")"
  cp -r "$path" "$scratch/$path"
done
find "$scratch" -name __pycache__ -prune -exec rm -rf {} +
mapfile -t overrides < <("$PYTHON" scripts/param_overrides.py configs/demo.yaml)
cd "$scratch"
export PATH="$(dirname "$PYTHON"):$PATH" TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
git init -q && git add -A && git -c user.email=demo@imageauth -c user.name=demo commit -qm "pipeline demo"
echo "[pipeline-demo] dvc exp run export ${overrides[*]}  (in $scratch)" >&2
dvc exp run export "${overrides[@]}"
dvc metrics show
echo "[pipeline-demo] the demo run is in $scratch" >&2
