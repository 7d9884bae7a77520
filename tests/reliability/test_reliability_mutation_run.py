"""The long-run fuzzing tool works as docs/reliability.md says: seeds in, a count of outcomes out."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_mutation_run_over_the_generated_seeds(tmp_path):
    seeds, current = tmp_path / "seeds", tmp_path / "current.bin"
    subprocess.run([sys.executable, str(ROOT / "fuzz" / "fuzz_preprocess.py"), "--make-seeds", str(seeds)], check=True)
    assert {path.suffix for path in seeds.iterdir()} >= {".jpg", ".png", ".webp", ".gif", ".bmp", ".tif", ".avif"}
    command = [sys.executable, str(ROOT / "fuzz" / "mutation_run.py"), str(seeds), "--runs", "400", "--seed", "3"]
    finished = subprocess.run([*command, "--current", str(current)], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    summary = finished.stdout.strip().splitlines()[-1]
    assert summary.startswith("400 inputs, no crash:")
    outcomes = ast.literal_eval(summary.split(":", 1)[1].rsplit("}", 1)[0] + "}")  # the printed outcome counts
    assert sum(outcomes.values()) == 400 and outcomes["undecodable_image"] > 0 and outcomes["verdict"] > 0
    assert current.stat().st_size > 0  # the last input tried is on disk, as a crash would leave it
