"""Warn before `./dev train` when params.yaml is set to bf16 on a machine that can only emulate it.

Why: Keras' `mixed_bfloat16` is fast only where the hardware has bf16
arithmetic (a recent GPU, or a CPU with AMX or AVX512-BF16). Elsewhere
oneDNN emulates it, and the recipe trains several times slower than in
float32: measured on a 2-core AMD EPYC (Zen 3, AVX2 only), VGG16 at 32 px
trained at about 3 images/s in bf16 and 25-38 in float32 with oneDNN on in one benchmark run
(bench/train_step.py; the train stage itself sustained 56-64 in float32), against 166 in bf16 on a
Zen 4 EPYC with AVX512-BF16. The shipped recipe is float32
(`train.mixed_precision: false`); a bf16 setting is someone's choice of a
different recipe, so this only warns and says what the choices are.

Usage: python scripts/precision_check.py  (exit 0 always; a warning on stderr)
"""

from __future__ import annotations

import sys
from pathlib import Path

BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_has_bf16(cpuinfo: str) -> bool:
    """Whether any `flags` line of /proc/cpuinfo names a bf16 instruction set."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and BF16_FLAGS & set(line.split(":", 1)[-1].split()):
            return True
    return False


def read_cpuinfo() -> str:
    """/proc/cpuinfo, or nothing where there is none (macOS): then no bf16 is assumed."""
    path = Path("/proc/cpuinfo")
    return path.read_text() if path.exists() else ""


def warning(mixed_precision: bool, cpuinfo: str, has_gpu: bool) -> str | None:
    if not mixed_precision or has_gpu or cpu_has_bf16(cpuinfo):
        return None
    return (
        "params.yaml trains in bf16 (train.mixed_precision: true), but this CPU has neither AMX nor "
        "AVX512-BF16: bf16 is emulated here, several times slower than float32 (measured about 3 vs 25-38 images/s "
        "on a 2-core Zen 3 EPYC: over a day for params.yaml's epochs). The choices: a machine with bf16 hardware "
        "(scripts/train_on_gpu.sh on a GPU), or `dvc exp run -S train.mixed_precision=false`, the shipped "
        "recipe's float32."
    )


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from training.params import load_params
    from training.run_record import describe_gpus

    message = warning(load_params()["train"]["mixed_precision"], read_cpuinfo(), describe_gpus() is not None)
    if message:
        print(f"warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    main()
