"""`params.yaml` and `dvc.lock` are read as DVC writes them: YAML 1.2 floats, not PyYAML's YAML 1.1."""

from __future__ import annotations

import math

import pytest

from training.params import load_params, load_yaml


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5e-05", 5e-05), ("1e3", 1000.0), ("-2E-4", -0.0002), ("0.0001", 0.0001), ("1.", 1.0), (".5", 0.5)],
)
def test_floats_without_a_decimal_point_are_floats(text: str, expected: float):
    """`dvc exp run -S train.learning_rate=0.00005` writes `5e-05`; YAML 1.1 made that a string."""
    value = load_yaml(f"learning_rate: {text}")["learning_rate"]
    assert isinstance(value, float) and value == pytest.approx(expected)


def test_everything_else_reads_as_before():
    values = load_yaml("a: 5\nb: true\nc: null\nd: '5e-05'\ne: lineage/35bd7c67dd0f\nf: [0.2, 1.2]\ng: .inf\nh: .nan")
    assert values["a"] == 5 and isinstance(values["a"], int)
    assert values["b"] is True and values["c"] is None
    assert values["d"] == "5e-05"  # quoted: a string on purpose
    assert values["e"] == "lineage/35bd7c67dd0f" and values["f"] == [0.2, 1.2]
    assert values["g"] == math.inf and math.isnan(values["h"])


def test_the_params_file_is_read_with_the_same_rules(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  learning_rate: 5e-05\n  epochs: 3\n")
    assert load_params(path) == {"train": {"learning_rate": 5e-05, "epochs": 3}}
