"""Print an override set (configs/*.yaml: `dotted.key: value` lines) as `dvc exp run` arguments, one a line.

One reading for every caller (the demo pipeline, the GPU preparation), so
that an override set means the same wherever it is applied. JSON is a YAML
flow value, which is what DVC's `--set-param` parses: null, numbers,
booleans, quoted strings, lists and mappings keep their types.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def set_param_arguments(overrides: Path) -> list[str]:
    return [f"--set-param={key}={json.dumps(value)}" for key, value in yaml.safe_load(overrides.read_text()).items()]


if __name__ == "__main__":
    print("\n".join(set_param_arguments(Path(sys.argv[1]))))
