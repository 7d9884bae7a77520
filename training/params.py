"""Reads `params.yaml` once per stage run; stages take plain typed arguments from it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

# DVC runs every stage from the repository root; overrides go through DVC (`dvc exp run -S`), never around it.
PARAMS_PATH = Path("params.yaml")


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML reads YAML 1.1, where `5e-05` (no decimal point) is a string; DVC writes such floats.

    `dvc exp run -S train.learning_rate=0.00005` stores `5e-05` in params.yaml
    and dvc.lock, and a 1.1 reader hands the trainer a string. This loader
    resolves floats by the YAML 1.2 core schema's rule instead.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:float"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str | bytes) -> Any:
    """Parse YAML as DVC writes it (YAML 1.2 floats); integers, booleans and null as usual."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return load_yaml(handle.read())


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
