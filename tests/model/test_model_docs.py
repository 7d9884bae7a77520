"""README.md and docs/model.md show the shipped model card's own figures, not hand-copied ones."""

from __future__ import annotations

import json

import pytest
from script_loader import load_script

pytestmark = pytest.mark.model


def load_report():
    return load_script("scripts/model_report.py")


def test_documents_match_the_model_card(repo_root):
    report = load_report()
    card = json.loads((repo_root / "function_app/model/model.json").read_text())
    block = report.render(card)
    assert f"{card['metrics']['accuracy'] * 100:.2f} %" in block
    for document in report.DOCUMENTS:
        text = document.read_text()
        assert report.update(text, block) == text, f"{document.name} is stale: run python scripts/model_report.py"


def test_a_changed_card_is_detected(repo_root):
    report = load_report()
    card = json.loads((repo_root / "function_app/model/model.json").read_text())
    card["variants"][card["variant"]]["accuracy"] = 0.1234
    text = report.DOCUMENTS[0].read_text()
    assert report.update(text, report.render(card)) != text
