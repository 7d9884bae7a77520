"""The CLI's table and CSV: evidence in a few words, names that cannot break a row or a spreadsheet.

The JSON output is the API's response shape and needs nothing of this.
"""

from __future__ import annotations

import csv
import re
from typing import TextIO

CSV_COLUMNS = [
    "filename", "sha256", "verdict", "label", "probability_fake", "threshold", "width", "height", "note", "evidence",
]  # fmt: skip
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters (C0, DEL, C1): in a table they would break rows or drive the terminal.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def evidence_summary(evidence: list[dict]) -> str:
    """The evidence entries in a few words each, for the table and the CSV (the JSON has them in full)."""
    return "; ".join(_evidence_phrase(entry) for entry in evidence)


def _evidence_phrase(entry: dict) -> str:
    says = {True: "says AI", False: "says capture"}.get(entry.get("ai_generated"), "says neither")
    if entry.get("ai_generated") and entry.get("ingredient"):
        says = "says AI (an ingredient)"
    elif entry.get("ai_generated") and entry.get("source_type") == "compositeWithTrainedAlgorithmicMedia":
        says = "says AI (a composite)"
    if entry.get("kind") == "c2pa":
        if entry.get("status") == "unreadable":
            return "C2PA unreadable"
        signer = f" by {entry['signer']}" if entry.get("signer") else ""
        trust = "trusted" if entry.get("trusted") else "untrusted"
        return f"C2PA {entry.get('status')}, {says}, signed{signer} ({trust})"
    return f"{entry.get('source')}: {entry.get('generator') or says} (unsigned)"


def printable(text: str) -> str:
    """`text` with control characters shown as `\\xNN`: a name cannot break a table row or send
    escape sequences to the terminal."""
    return CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def write_table(results: list[dict], out: TextIO) -> None:
    names = [printable(item["filename"] or "") for item in results]
    width = max([len(name) for name in names] + [len("FILE")])
    verdict_width = len("ai_generated_by_credentials")
    out.write(f"{'FILE':<{width}}  {'VERDICT':<{verdict_width}}  {'LABEL':<5}  {'P(FAKE)':>7}  SIZE       EVIDENCE\n")
    for name, item in zip(names, results, strict=True):
        if "error" in item:
            line = f"{name:<{width}}  {'error':<{verdict_width}}  {item['error']['code']}: {item['error']['message']}"
        else:
            size = f"{item['width']}x{item['height']}"
            line = (
                f"{name:<{width}}  {item['verdict']:<{verdict_width}}  {item['label']:<5}  "
                f"{item['probability_fake']:>7.4f}  {size:<9}  {printable(evidence_summary(item['evidence'])) or '-'}"
            )
        out.write(line + "\n")


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading `'`, as the page's CSV does."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_csv(results: list[dict], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=[*CSV_COLUMNS, "error_code", "error_message"], extrasaction="ignore")
    writer.writeheader()
    for item in results:
        error = item.get("error") or {}
        evidence = evidence_summary(item["evidence"]) if "evidence" in item else None
        row = {**item, "evidence": evidence, "error_code": error.get("code"), "error_message": error.get("message")}
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
