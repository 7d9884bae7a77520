"""Every project file a stage's command imports is one of that stage's DVC deps.

Why: DVC re-runs a stage only when a dep changes. A module a stage imports
but does not list (directly, or through another module, or inside a
function) can change what the stage produces while `dvc status` says
"up to date", and the shipped model silently stops being what the lock says.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Import prefixes that name project files, and where those files live.
PACKAGES = {"training": ROOT / "training", "imageauth": ROOT / "function_app" / "imageauth"}


def _module_file(name: str) -> Path | None:
    package, _, rest = name.partition(".")
    if package not in PACKAGES:
        return None
    base = PACKAGES[package].joinpath(*rest.split(".")) if rest else PACKAGES[package]
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[Path]:
    """Project files `path` imports anywhere in its body (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(file for name in names if (file := _module_file(name)))
    return found


def _closure(start: Path) -> set[Path]:
    seen, todo = set(), [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path) - seen)
    # Package markers that hold only a docstring cannot change what a stage produces.
    return {path for path in seen if path.name != "__init__.py" or not _docstring_only(path)}


def _docstring_only(path: Path) -> bool:
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


# Per stage, a module whose imports (it included) need no dep, with the reason.
EXEMPT = {
    # Only `--pack` (a GPU machine) decodes with the serving code, and it checks the SHA-256 of what it
    # decoded against the arrays ingest wrote: changed preprocessing fails that run instead of changing it.
    "train": "imageauth.preprocess",
}


def _files_imported_by(module: str) -> set[str]:
    return {str(path.relative_to(ROOT)) for path in _closure(_module_file(module))}


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_the_stage_lists_every_project_file_its_command_imports(stage: str):
    definition = STAGES[stage]
    module = definition["cmd"].split()[2]  # python -m <module> ...
    deps = {dep if isinstance(dep, str) else next(iter(dep)) for dep in definition.get("deps", [])}
    exempt = _files_imported_by(EXEMPT[stage]) if stage in EXEMPT else set()
    missing = _files_imported_by(module) - deps - exempt
    assert missing == set(), f"stage {stage} imports files it does not list as deps"


def test_an_unlisted_import_is_found(tmp_path, monkeypatch):
    """The check itself: a lazy import inside a function counts."""
    module = tmp_path / "stage.py"
    module.write_text("def run():\n    from imageauth.pixels import to_rgb\n    return to_rgb\n")
    assert ROOT / "function_app/imageauth/pixels.py" in _imports(module)
