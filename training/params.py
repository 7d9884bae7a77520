"""Reads `params.yaml` once per stage run; stages take plain typed arguments from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# DVC runs every stage from the repository root; overrides go through DVC (`dvc exp run -S`), never around it.
PARAMS_PATH = Path("params.yaml")


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def flatten(tree: dict, prefix: str = "") -> dict:
    """`{"train": {"epochs": 7}}` -> `{"train.epochs": 7}`: how parameters are logged to MLflow."""
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
