"""`imageauth predict PATH...`: the detector on local files, folders and globs.

The same core as the API (`predict_or_error`), so a file gets the same
probability here as over HTTP. Output goes to stdout as a table, JSON (the
API's response shape) or CSV; the progress bar goes to stderr, so piping the
output stays clean. The exit status is 1 if any input got no verdict.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import glob
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from imageauth.predict import error_item, get_detector, predict_or_error
from imageauth.preprocess import IMAGE_SUFFIXES, ImageError, too_many_bytes
from imageauth.settings import Settings

CSV_COLUMNS = [
    "filename", "sha256", "verdict", "label", "probability_fake", "threshold", "width", "height", "note", "evidence",
]  # fmt: skip


def expand_inputs(arguments: Iterable[str]) -> list[Path | str]:
    """Files to score, in argument order without duplicates; an argument that matched nothing stays a str."""
    found: dict[Path | str, None] = {}
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found.update(dict.fromkeys(_images_in(path)))
            continue
        if path.is_file():
            matches = [path]
        elif glob.has_magic(argument):
            # Globs are expanded here too, for shells (and quoting) that leave them alone.
            matches = [file for match in sorted(glob.glob(argument, recursive=True)) for file in _files(Path(match))]
        else:
            matches = []
        found.update(dict.fromkeys(matches or [argument]))
    return list(found)


def _images_in(folder: Path) -> list[Path]:
    """Image-named files under `folder`; a file named explicitly is tried whatever its name."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else _images_in(path) if path.is_dir() else []


def display_name(name: str | Path) -> str:
    """A file name as the output shows it: bytes that are not UTF-8 appear as `\\xNN`.

    Python decodes such bytes of a Linux file name to lone surrogates, which a UTF-8
    stdout (or the JSON and CSV written to it) cannot carry: the run died on the file.
    """
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def not_found(argument: str) -> dict:
    return error_item(display_name(argument), ImageError("not_found", "No such file or folder, and no match.", 404))


def score_file(path: Path, settings: Settings) -> dict:
    """The result item for one file; never raises for a bad or unreadable file."""
    name = display_name(path)
    try:
        size = path.stat().st_size
        if size > settings.max_bytes:
            return error_item(name, too_many_bytes(size, settings.max_bytes))
        data = path.read_bytes()
    except OSError as error:
        return error_item(name, ImageError("unreadable_file", f"The file cannot be read ({error.strerror}).", 400))
    return predict_or_error(data, name, settings)


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


def write_table(results: list[dict], out: TextIO) -> None:
    width = max([len(item["filename"] or "") for item in results] + [len("FILE")])
    verdict_width = len("ai_generated_by_credentials")
    out.write(f"{'FILE':<{width}}  {'VERDICT':<{verdict_width}}  {'LABEL':<5}  {'P(FAKE)':>7}  SIZE       EVIDENCE\n")
    for item in results:
        if "error" in item:
            line = f"{item['filename']:<{width}}  error  {item['error']['code']}: {item['error']['message']}"
        else:
            size = f"{item['width']}x{item['height']}"
            line = (
                f"{item['filename']:<{width}}  {item['verdict']:<{verdict_width}}  {item['label']:<5}  "
                f"{item['probability_fake']:>7.4f}  {size:<9}  {evidence_summary(item['evidence']) or '-'}"
            )
        out.write(line + "\n")


def write_csv(results: list[dict], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=[*CSV_COLUMNS, "error_code", "error_message"], extrasaction="ignore")
    writer.writeheader()
    for item in results:
        error = item.get("error") or {}
        evidence = evidence_summary(item["evidence"]) if "evidence" in item else None
        writer.writerow(
            {**item, "evidence": evidence, "error_code": error.get("code"), "error_message": error.get("message")}
        )


def predict_command(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_env()
    if args.model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=args.model_dir)
    inputs = expand_inputs(args.paths)
    progress = tqdm(
        inputs, desc="predicting", unit="image", file=sys.stderr, disable=True if args.no_progress else None
    )
    results = [score_file(entry, settings) if isinstance(entry, Path) else not_found(entry) for entry in progress]
    if args.format == "json":
        document = {"model_version": get_detector(settings).version, "results": results}
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        write_csv(results, out)
    else:
        write_table(results, out)
    failed = sum("error" in item for item in results)
    if failed or not results:
        print(
            f"imageauth: {failed} of {len(results)} inputs failed" if results else "imageauth: no input files",
            file=sys.stderr,
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imageauth", description="Real photograph or AI-generated image?")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="score image files, folders (recursively) and globs")
    predict.add_argument("paths", nargs="+", metavar="PATH")
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table")
    predict.add_argument("--model-dir", type=Path, help="folder with model.tflite and model.json")
    predict.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (it is off anyway when stderr is not a terminal)",
    )
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    return predict_command(args, out or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
