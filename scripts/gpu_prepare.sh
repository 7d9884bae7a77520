#!/usr/bin/env bash
# Get this checkout ready to send to a borrowed GPU machine, and back to normal afterwards.
#
# The device tool sends the working tree (tracked files and untracked files git does not ignore)
# plus the paths a run carries, 64 MiB in all. Two tracked things the GPU run never reads would not
# let the rest fit: this repository's own DVC remote, dvc-store/ (~190 MB of float weights), and the
# shipped model.tflite (14 MiB). `prepare`:
#   - packs the ingested train/val data (training.pack: the original JPEGs, 27 MB for CIFAKE) into
#     .gpu/, with stage photo_patches' patches (lossless PNGs, +18 MB) when params.yaml names
#     train.extra_real; re-packed every time, so a pack never lags params.yaml (a few seconds)
#   - downloads, for the GPU machine's Python (3.12, no TensorFlow, no internet), the wheels it
#     lacks into .whl/: Keras and its two pure-Python deps, and the Pillow that ingest decoded with
#     (the pack is re-decoded there and checked bit for bit)
#   - takes both out of git's index and ignores them locally (.git/info/exclude): the files stay
#     on disk, and nothing is committed
#   - prints what would travel and fails above 64 MiB.
# `restore` puts them back into the index; run it as soon as the device runs are done, and never
# commit in between (`git status` would show them as deleted).
#
# Usage: scripts/gpu_prepare.sh prepare [OVERRIDES]|restore|size (hide: the index step of prepare alone)
#   OVERRIDES: an override set (configs/gpu.yaml) applied to params.yaml first, with `dvc exp run -S`.
# The device call then carries .gpu and .whl: see docs/gpu.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LIMIT=$((64 * 1024 * 1024))
EXCLUDE=$(git rev-parse --git-path info/exclude)
HIDDEN=(dvc-store function_app/model/model.tflite)  # tracked, never read by the GPU run

sum_sizes() { { xargs -0 -r stat -c %s 2>/dev/null || true; } | awk '{total += $1} END {print total + 0}'; }

size() {
  local tree carried
  tree=$(git ls-files -z --cached --others --exclude-standard | sum_sizes)
  carried=$({ find .gpu .whl -type f -print0 2>/dev/null || true; } | sum_sizes)
  awk -v t="$tree" -v c="$carried" 'BEGIN {printf "would travel: %.1f MiB (working tree %.1f, .gpu and .whl %.1f); the limit is 64 MiB\n", (t + c) / 1048576, t / 1048576, c / 1048576}'
  [ $((tree + carried)) -le "$LIMIT" ] || { echo "too large to travel" >&2; return 1; }
}

hide() {
  local path
  for path in "${HIDDEN[@]}"; do
    if git ls-files --error-unmatch "$path" >/dev/null 2>&1; then
      git rm -r -q --cached "$path"
      grep -qx "/$path" "$EXCLUDE" 2>/dev/null || echo "/$path" >>"$EXCLUDE"
      echo "$path is out of git's index until 'scripts/gpu_prepare.sh restore': do not commit meanwhile"
    fi
  done
}

prepare() {
  local overrides_file=${1:-} overrides
  if [ -n "$overrides_file" ]; then
    # DVC's own override mechanism edits params.yaml in place; the stage it names is already up to date.
    mapfile -t overrides < <("$PYTHON" scripts/param_overrides.py "$overrides_file")
    [ "${#overrides[@]}" -gt 0 ] || { echo "no overrides read from $overrides_file" >&2; exit 1; }
    PATH="$(dirname "$PYTHON"):$PATH" dvc exp run -s prepare_base_model "${overrides[@]}"
  fi
  local source
  source=$("$PYTHON" -c 'from training.params import load_params; print(load_params()["ingest"]["source"])')
  [ -f "$source" ] || { echo "ingest.source ($source) must be the local zip that ingest read" >&2; exit 1; }
  local extra
  extra=$("$PYTHON" -c 'from training.params import load_params; print(load_params()["train"].get("extra_real") or "")')
  "$PYTHON" -m training.pack data/prepared "$source" .gpu/cifake_train_val.npz ${extra:+--extra-real "$extra"}
  mkdir -p .whl
  local pins
  pins=$("$PYTHON" -c 'import importlib.metadata as m
print(" ".join(f"{p}=={m.version(p)}" for p in ("keras", "namex", "optree", "pillow")))')
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --implementation cp --dest .whl $pins
  hide
  size
}

restore() {
  local path
  if [ -f "$EXCLUDE" ]; then
    for path in "${HIDDEN[@]}"; do
      grep -vx "/$path" "$EXCLUDE" >"$EXCLUDE.tmp" || true
      mv "$EXCLUDE.tmp" "$EXCLUDE"
    done
  fi
  git reset -q -- "${HIDDEN[@]}"
  git status --short -- "${HIDDEN[@]}" | head -3
  echo "${HIDDEN[*]} back in git's index"
}

case "${1:-}" in
  prepare) prepare "${2:-}" ;;
  hide) hide && size ;;
  restore) restore ;;
  size) size ;;
  *) echo "usage: $0 prepare [OVERRIDES]|hide|restore|size" >&2; exit 2 ;;
esac
