"""Reads `params.yaml` once per stage run; stages take plain typed arguments from it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

PARAMS_PATH = Path(os.environ.get("IMAGEAUTH_PARAMS", "params.yaml"))


def load_params(path: Path = PARAMS_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
