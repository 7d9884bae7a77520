"""Recipes name parameters that exist: override sets (configs/*.yaml) and params.yaml's degradations.

`dvc exp run -S` adds a key it does not know instead of refusing it, and the
augmentation skips a degradation it has no code for, so a misspelt name
would train another recipe than the one written down, silently; on a
borrowed GPU with minutes to spend that is a lost run. The keys are checked
against params.yaml as the pending patches leave it, since the recipes that
wait for a retrain use the parameters those patches add.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from training.augment import degrade
from training.params import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
from param_overrides import set_param_arguments  # noqa: E402

OVERRIDE_SETS = sorted((REPO_ROOT / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def patched_params(tmp_path_factory) -> dict:
    """params.yaml with every pending patch's params.yaml hunks applied (the other files left out)."""
    folder = tmp_path_factory.mktemp("params")
    (folder / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    for patch in sorted((REPO_ROOT / "docs" / "pending").glob("*.patch")):
        subprocess.run(["git", "apply", "--include=params.yaml", str(patch)], cwd=folder, check=True)
    return yaml.safe_load((folder / "params.yaml").read_text())


@pytest.mark.parametrize("override_set", OVERRIDE_SETS, ids=[path.name for path in OVERRIDE_SETS])
def test_every_override_names_an_existing_parameter(override_set: Path, patched_params: dict):
    for dotted in yaml.safe_load(override_set.read_text()):
        node = patched_params
        for part in dotted.split("."):
            assert isinstance(node, dict) and part in node, f"{override_set.name}: {dotted} is not in params.yaml"
            node = node[part]


def test_values_reach_dvc_with_their_types(tmp_path: Path):
    overrides = tmp_path / "set.yaml"
    values = {"a.none": None, "a.rate": 5e-05, "a.on": True, "a.name": "data/x y", "a.range": [0.2, 1.2]}
    overrides.write_text(yaml.safe_dump(values))
    arguments = set_param_arguments(overrides)
    assert all(argument.startswith("--set-param=") for argument in arguments)
    parsed = dict(argument.removeprefix("--set-param=").split("=", 1) for argument in arguments)
    # Read as DVC reads a value: YAML 1.2, where 5e-05 is a float.
    assert {key: load_yaml(f"v: {text}")["v"] for key, text in parsed.items()} == values


def test_every_degradation_params_yaml_names_is_one_the_augmentation_performs(patched_params: dict):
    """Each step, forced on (p = 1), must change an image: a step with no code behind it changes nothing."""
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    steps = patched_params["train"]["degrade"]
    assert steps
    for name, step in steps.items():
        degraded = degrade(image, np.random.default_rng(1), {name: {**step, "p": 1.0}})
        assert degraded.shape == image.shape and not np.array_equal(degraded, image), name
