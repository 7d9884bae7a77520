"""Reads the function app's Python source (AST only, nothing is imported or run).

It finds what the infrastructure must agree with: the blob bindings (function name, container,
connection, source) and the environment variables (app settings) the deployed code reads.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_APP = ROOT / "function_app"
PACKAGE = "imageauth"
BLOB_DECORATORS = {"blob_trigger", "blob_input", "blob_output"}
SETTING_NAME = re.compile(r"^IMAGEAUTH_[A-Z0-9_]+$")
# Set by the platform itself, never by our Bicep.
PLATFORM_PREFIXES = ("WEBSITE_", "FUNCTIONS_", "AZURE_FUNCTIONS_", "CONTAINER_")


@dataclass(frozen=True)
class BlobBinding:
    function: str  # the name the host registers (function_name decorator, else the def name)
    kind: str  # blob_trigger | blob_input | blob_output
    path: str
    connection: str | None
    source: str | None  # for triggers: "EventGrid" or "LogsAndContainerScan" (None = default)

    @property
    def container(self) -> str:
        return self.path.split("/", 1)[0]


def entry_modules() -> list[Path]:
    """The files the Functions host loads: function_app.py and any blueprint beside it."""
    return sorted(FUNCTION_APP.glob("*.py"))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_package_modules(tree: ast.Module, current: str | None) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[1] for alias in node.names if alias.name.startswith(f"{PACKAGE}."))
        elif isinstance(node, ast.ImportFrom):
            if node.level and current is not None:  # relative import inside the package
                module = node.module or ""
                names.update([module.split(".")[0]] if module else [a.name for a in node.names])
            elif node.module == PACKAGE:
                names.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith(f"{PACKAGE}."):
                names.add(node.module.split(".")[1])
    return names


def deployed_modules() -> list[Path]:
    """Entry modules plus every imageauth module they import, directly or not.

    Without an entry module yet, all of function_app/imageauth/ counts as deployed.
    """
    package_dir = FUNCTION_APP / PACKAGE
    entries = entry_modules()
    if not entries:
        return sorted(package_dir.glob("*.py"))
    seen: dict[str, Path] = {}
    queue = [(path, None) for path in entries]
    while queue:
        path, current = queue.pop()
        for name in _imported_package_modules(_parse(path), current):
            candidate = package_dir / f"{name}.py"
            if name not in seen and candidate.exists():
                seen[name] = candidate
                queue.append((candidate, name))
    return entries + sorted(seen.values())


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def settings_read(paths: list[Path]) -> set[str]:
    """Names read through os.environ / os.getenv, plus every IMAGEAUTH_* name the code spells out."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Call) and node.args:
                function = node.func
                is_get = isinstance(function, ast.Attribute) and function.attr == "get" and _is_environ(function.value)
                is_getenv = isinstance(function, ast.Attribute) and function.attr == "getenv"
                if (is_get or is_getenv) and _string(node.args[0]):
                    names.add(_string(node.args[0]))
            elif isinstance(node, ast.Subscript) and _is_environ(node.value) and _string(node.slice):
                names.add(_string(node.slice))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SETTING_NAME.match(node.value):
                names.add(node.value)
    return {name for name in names if not name.startswith(PLATFORM_PREFIXES)}


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _string(node.value)
            if value is not None:
                constants[node.targets[0].id] = value
    return constants


def _visible_constants(path: Path, tree: ast.Module) -> dict[str, str]:
    """String constants a module defines or imports by name from the imageauth package."""
    visible = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{PACKAGE}."):
            source = FUNCTION_APP / Path(*node.module.split("."))
            source = source.with_suffix(".py")
            if source.exists():
                defined = _module_constants(_parse(source))
                visible.update({a.asname or a.name: defined[a.name] for a in node.names if a.name in defined})
    visible.update(_module_constants(tree))
    return visible


def _text(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    """A string literal, or a name bound to one (e.g. connection=CONNECTION_SETTING)."""
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return _string(node)


def _source(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Attribute):  # func.BlobSource.EVENT_GRID
        return {"EVENT_GRID": "EventGrid", "LOGS_AND_CONTAINER_SCAN": "LogsAndContainerScan"}.get(node.attr, node.attr)
    return _string(node)


def blob_bindings(paths: list[Path]) -> list[BlobBinding]:
    bindings = []
    for path in paths:
        tree = _parse(path)
        constants = _visible_constants(path, tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = [d for d in node.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)]
            registered = node.name
            for call in calls:
                if call.func.attr == "function_name":
                    name_node = _keyword(call, "name") or (call.args[0] if call.args else None)
                    registered = _text(name_node, constants) or registered
            for call in calls:
                if call.func.attr in BLOB_DECORATORS:
                    bindings.append(
                        BlobBinding(
                            function=registered,
                            kind=call.func.attr,
                            path=_text(_keyword(call, "path"), constants) or "",
                            connection=_text(_keyword(call, "connection"), constants),
                            source=_source(_keyword(call, "source")),
                        )
                    )
    return bindings


def string_constants(paths: list[Path]) -> set[str]:
    return {
        node.value
        for path in paths
        for node in ast.walk(_parse(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
