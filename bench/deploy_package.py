"""The deploy package as deploy.yml builds it, for benchmarks that time what Azure would run.

`function_app/` plus its requirements installed by `scripts/install_package_deps.py`
(wheels for the runtime's Python and glibc), pruned by `scripts/prune_packages.py`,
optionally with the workflow's bytecode. A process started with `-I -S` (no
environment variables, no `site`: the venv's site-packages stays off `sys.path`)
and the two folders in front of `sys.path` sees the standard library and the
package only, as the Functions worker does: the development venv has more
installed (aiohttp, for one, which the Azure SDK imports whenever it can), so
timing there would time another program, and a dependency missing from the
package would go unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = Path(".python_packages") / "lib" / "site-packages"
# deploy.yml's bytecode step (it says why the invalidation mode).
COMPILE = ["-m", "compileall", "-q", "-f", "-j", "0", "--invalidation-mode", "unchecked-hash", "."]


def build(target: Path, app_source: Path = REPO / "function_app") -> Path:
    """The package for `app_source` (a function_app folder, this checkout's by default) in `target`."""
    shutil.copytree(app_source, target, ignore=shutil.ignore_patterns("__pycache__", "local.settings.json"))
    install = [sys.executable, str(REPO / "scripts" / "install_package_deps.py")]
    subprocess.run([*install, str(target / "requirements.txt"), str(target / PACKAGES)], check=True)
    subprocess.run([sys.executable, str(REPO / "scripts" / "prune_packages.py"), str(target / PACKAGES)], check=True)
    return target


def compile_bytecode(target: Path) -> None:
    subprocess.run([sys.executable, *COMPILE], cwd=target, check=True)


def run_isolated(package: Path, probe: str) -> str:
    """`probe`'s stdout, run in a fresh `-I -S -B` process whose argv[1:3] are the package's two folders."""
    command = [sys.executable, "-I", "-S", "-B", "-c", probe, str(package), str(package / PACKAGES)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout
