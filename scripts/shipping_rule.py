"""Does a candidate model replace the shipped one? The rule, applied to two model cards.

A retrain ships only if it meets strictly more of the target rows of issues 13
and 14 than the shipped model and loses none that the shipped model meets
(docs/model.md). The rule was written down before each run's figures were
seen; this script applies it the same way every time, so the decision cannot
drift towards the figures. The rows and their thresholds are model_report's,
the ones the README shows.

    python scripts/shipping_rule.py CANDIDATE_CARD [--shipped function_app/model/model.json] [--or-photo-cut 1/3]

`--or-photo-cut F` is the second clause some runs wrote down with their rule
(docs/model.md): a candidate that loses no row also ships when it calls at
least the fraction F fewer of the real photographs fake (27 -> 18 for 1/3),
since a false accusation is the worst answer the product can give.

Prints both models' rows side by side; exit 0 to ship, 1 not to.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_report import CARD_PATH, is_met, shown, shown_target, target_rows  # noqa: E402
from tabulate import tabulate  # noqa: E402


def decide(shipped: dict, candidate: dict, photo_cut: float | None = None) -> tuple[bool, list[list[str]], str]:
    """(ship?, table rows, the reason in one sentence)."""
    old = {what: (value, sign, target) for what, value, sign, target in target_rows(shipped)}
    new = {what: (value, sign, target) for what, value, sign, target in target_rows(candidate)}
    if not old or not new:
        return False, [], "a card without robustness figures cannot be judged by the rule"
    table, lost, gained = [], [], []
    for what, (value, sign, target) in old.items():
        candidate_value = new.get(what, (float("nan"),))[0]
        old_met, new_met = is_met(value, sign, target), is_met(candidate_value, sign, target)
        lost += [what] if old_met and not new_met else []
        gained += [what] if new_met and not old_met else []
        marks = ["met" if old_met else "not met", "met" if new_met else "not met"]
        table.append(
            [
                what,
                shown(what, value),
                marks[0],
                shown(what, candidate_value),
                marks[1],
                shown_target(what, sign, target),
            ]
        )
    met_old = sum(is_met(*row) for row in old.values())
    met_new = sum(is_met(*new.get(what, (float("nan"), sign, target))) for what, (_, sign, target) in old.items())
    if lost:
        return False, table, f"do not ship: it loses {', '.join(lost)}"
    if met_new <= met_old:
        reason = f"do not ship: it meets {met_new} rows, the shipped model {met_old}"
        if photo_cut is None:
            return False, table, reason
        cut = _photo_cut(shipped, candidate)
        if cut is None:
            return False, table, f"{reason}, and the photo clause cannot be judged without both cards' photo counts"
        if cut >= photo_cut - 1e-9:
            return True, table, f"ship: it loses no row and calls {cut:.0%} fewer real photos fake"
        return False, table, f"{reason}, and calls {cut:.0%} fewer real photos fake (the clause asks {photo_cut:.0%})"
    return True, table, f"ship: it meets {met_new} rows against {met_old} ({', '.join(gained)}) and loses none"


def _photo_cut(shipped: dict, candidate: dict) -> float | None:
    """The fraction fewer of the same real photographs the candidate calls fake; None without both counts."""
    old, new = (card.get("robustness", {}).get("real_photos", {}) for card in (shipped, candidate))
    if not old.get("called_fake") or old.get("count") != new.get("count") or "called_fake" not in new:
        return None
    return 1 - new["called_fake"] / old["called_fake"]


def _fraction(text: str) -> float:
    numerator, _, denominator = text.partition("/")
    return float(numerator) / float(denominator or 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", type=Path, help="the candidate's model card (export's model.json)")
    parser.add_argument("--shipped", type=Path, default=CARD_PATH, help="the shipped model's card")
    parser.add_argument(
        "--or-photo-cut", type=_fraction, help="also ship, losing no row, with this fraction fewer photos called fake"
    )
    arguments = parser.parse_args()
    shipped, candidate = (json.loads(path.read_text()) for path in (arguments.shipped, arguments.candidate))
    ship, table, reason = decide(shipped, candidate, arguments.or_photo_cut)
    names = [shipped.get("version", "shipped"), candidate.get("version", "candidate")]
    headers = ["requirement", names[0], "", names[1], "", "target"]
    print(tabulate(table, headers=headers, tablefmt="github"))
    print(reason)
    return 0 if ship else 1


if __name__ == "__main__":
    sys.exit(main())
