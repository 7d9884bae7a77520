"""`./dev train` warns when bf16 would be emulated (scripts/precision_check.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("precision_check", ROOT / "scripts/precision_check.py")
precision_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(precision_check)

ZEN3 = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n"


def test_bf16_hardware_is_read_from_the_cpu_flags():
    assert not precision_check.cpu_has_bf16(ZEN3)
    assert precision_check.cpu_has_bf16(ZEN4)
    assert precision_check.cpu_has_bf16(SAPPHIRE_RAPIDS)
    assert not precision_check.cpu_has_bf16("model name\t: avx512_bf16 in a name, not a flag\n")


def test_the_warning_appears_only_where_bf16_would_be_emulated():
    message = precision_check.warning(True, ZEN3, has_gpu=False)
    assert "emulated" in message and "train.mixed_precision=false" in message
    assert precision_check.warning(True, ZEN4, has_gpu=False) is None
    assert precision_check.warning(True, ZEN3, has_gpu=True) is None
    assert precision_check.warning(False, ZEN3, has_gpu=False) is None


def test_the_script_runs_on_this_machine_and_never_fails():
    done = subprocess.run([sys.executable, "scripts/precision_check.py"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout == ""
