"""`function_app/function_app.py`, imported the way the Azure Functions worker imports it: by file path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FUNCTION_APP = Path(__file__).resolve().parent.parent / "function_app" / "function_app.py"


def load_function_app(module_name: str) -> ModuleType:
    """A fresh module object: each test package gets its own app, as each worker process does."""
    spec = importlib.util.spec_from_file_location(module_name, FUNCTION_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def functions_by_name(module: ModuleType) -> dict:
    """The registered functions by name; `get_functions()` may be called only once per app."""
    return {function.get_function_name(): function for function in module.app.get_functions()}
