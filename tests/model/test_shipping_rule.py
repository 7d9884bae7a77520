"""The shipping rule decides from the two cards' target rows, the same way every time."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from script_loader import REPO_ROOT, load_script

pytestmark = pytest.mark.model

RULE = load_script("scripts/shipping_rule.py")


def baseline() -> dict:
    """The shipped card's structure with fixed figures: 9 of 12 rows met (not clean accuracy, the
    real photos, the share outside the unsure band), whatever model ships later."""
    card = json.loads((REPO_ROOT / "function_app/model/model.json").read_text())
    card["metrics"] |= {"accuracy": 0.96, "ece": 0.01, "verdict_agreement_vs_keras": 0.999, "size_bytes": 15_000_000}
    for name, condition in card["robustness"]["conditions"].items():
        condition["accuracy"] = 0.93 if name == "blur_1.0" else 0.96
    card["robustness"]["real_photos"]["share_called_fake"] = 0.3
    card["unsure_band"]["test"] |= {"accuracy_outside": 0.995, "share_inside": 0.12}
    return card


SHIPPED = baseline()


def candidate(**changes: float) -> dict:
    """The baseline card with some figures changed: `clean`, `resize`, `jpeg`, `photos`."""
    card = copy.deepcopy(SHIPPED)
    where = {
        "clean": (card["metrics"], "accuracy"),
        "resize": (card["robustness"]["conditions"]["resize_0.75"], "accuracy"),
        "jpeg": (card["robustness"]["conditions"]["jpeg_q50"], "accuracy"),
        "photos": (card["robustness"]["real_photos"], "share_called_fake"),
    }
    for name, value in changes.items():
        holder, key = where[name]
        holder[key] = value
    return card


def test_the_same_figures_do_not_ship():
    ship, table, reason = RULE.decide(SHIPPED, copy.deepcopy(SHIPPED))
    assert (ship, reason) == (False, "do not ship: it meets 9 rows, the shipped model 9")
    assert len(table) == len(RULE.target_rows(SHIPPED)) == 12


def test_one_more_row_met_and_none_lost_ships():
    ship, _, reason = RULE.decide(SHIPPED, candidate(clean=0.975))
    assert (ship, reason) == (True, "ship: it meets 10 rows against 9 (dev-test accuracy, clean) and loses none")


def test_a_lost_row_stops_it_however_many_are_gained():
    ship, _, reason = RULE.decide(SHIPPED, candidate(clean=0.98, photos=0.05, jpeg=0.94))
    assert not ship
    assert "loses accuracy, JPEG q50" in reason


def test_better_figures_that_meet_no_new_row_do_not_ship():
    # Closer to the targets, yet no row crosses its line: the rule counts rows, not distances.
    ship, _, _ = RULE.decide(SHIPPED, candidate(clean=0.969, photos=0.11))
    assert not ship


def test_a_card_without_robustness_figures_is_not_judged():
    bare = {key: value for key, value in SHIPPED.items() if key != "robustness"}
    assert RULE.decide(SHIPPED, bare)[0] is False


def test_the_command_exits_by_the_decision(tmp_path):
    paths = {}
    for name, card in {"better": candidate(photos=0.1), "same": SHIPPED, "shipped": SHIPPED}.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(card))
    script = str(REPO_ROOT / "scripts/shipping_rule.py")
    shipped = ["--shipped", str(paths["shipped"])]
    better = subprocess.run([sys.executable, script, str(paths["better"]), *shipped], capture_output=True, text=True)
    same = subprocess.run([sys.executable, script, str(paths["same"]), *shipped], capture_output=True, text=True)
    assert (better.returncode, same.returncode) == (0, 1), better.stderr + same.stderr
    assert "ship: it meets 10 rows against 9 (large real photos called fake)" in better.stdout
    assert "| large real photos called fake" in better.stdout and "10.00 %" in better.stdout


def test_the_photo_clause_ships_a_third_fewer_photos_called_fake_only_when_no_row_is_lost():
    """27 -> 18 of 94 is a cut of one third; 19 is not; a lost row stops it even at 0."""

    def photos(called: int, **changes: float) -> dict:
        card = candidate(photos=called / 94, **changes)
        card["robustness"]["real_photos"] |= {"count": 94, "called_fake": called}
        return card

    shipped = photos(27)
    ship, _, reason = RULE.decide(shipped, photos(18), photo_cut=1 / 3)
    assert (ship, reason) == (True, "ship: it loses no row and calls 33% fewer real photos fake")
    assert RULE.decide(shipped, photos(19), photo_cut=1 / 3)[0] is False
    assert RULE.decide(shipped, photos(18))[0] is False, "the clause applies only when asked for"
    assert RULE.decide(shipped, photos(0, jpeg=0.94), photo_cut=1 / 3)[0] is False
