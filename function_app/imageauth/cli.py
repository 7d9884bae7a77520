"""`imageauth predict PATH...`: the detector on local files, folders and globs.

The same core as the API (`predict_or_error`), so a file gets the same
probability here as over HTTP. Output goes to stdout as a table, JSON (the
API's response shape) or CSV; the progress bar goes to stderr, so piping the
output stays clean. Exit status: 0 when every input got a verdict, 1 when one
did not (or there was none), 2 for a usage error, 130 when interrupted (the
results so far are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import glob
import importlib.metadata
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from imageauth.predict import error_item, get_detector, predict_or_error
from imageauth.preprocess import IMAGE_SUFFIXES, ImageError, too_many_bytes
from imageauth.settings import Settings

CSV_COLUMNS = [
    "filename", "sha256", "verdict", "label", "probability_fake", "threshold", "width", "height", "note", "evidence",
]  # fmt: skip


STDIN = "-"
EXIT_STATUS = (
    "exit status: 0 every input got a verdict, 1 one did not (or there was no input), "
    "2 usage error, 130 interrupted (the results so far are written)"
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters (C0, DEL, C1): in a table they would break rows or drive the terminal.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """A folder the search could not list: it becomes an error row, not a silent gap."""

    path: Path
    reason: str


Input = Path | str | Unreadable


def expand_inputs(arguments: Iterable[str]) -> list[Input]:
    """What to score, in argument order, each file once (by its resolved path, so `a/../a/x.jpg`,
    a second spelling or a symlink loop under `**` do not score it twice); an argument that matched
    nothing stays a str; `-` is standard input."""
    found: dict[Input, None] = {}
    seen: set[Path] = set()
    for argument in arguments:
        path = Path(argument)
        if argument == STDIN:
            matches: list[Input] = [STDIN]
        elif path.is_dir():
            matches = _images_in(path)
            if not matches:
                print(f"imageauth: no image files in {display_name(argument)}", file=sys.stderr)
                continue
        elif path.exists():
            matches = [path]  # a file, or a pipe such as /dev/stdin or <(...)
        elif glob.has_magic(argument):
            # Globs are expanded here too, for shells (and quoting) that leave them alone.
            # Shallowest spelling first: through a symlinked folder, ** reaches a file again deeper down.
            spelled = sorted(glob.glob(argument, recursive=True), key=lambda match: (len(Path(match).parts), match))
            matches = [file for match in spelled for file in _files(Path(match))]
        else:
            matches = []
        for match in matches or [argument]:
            if isinstance(match, Path):
                resolved = match.resolve()
                if resolved in seen:
                    continue
                seen.add(resolved)
            found.setdefault(match, None)
    return list(found)


def _images_in(folder: Path) -> list[Path | Unreadable]:
    """Image-named files under `folder`, symlinked folders not followed; a folder that cannot be
    listed is reported. A file named explicitly is tried whatever its name."""
    files: list[Path | Unreadable] = []
    unreadable: list[Unreadable] = []

    def report(error: OSError) -> None:
        unreadable.append(Unreadable(Path(error.filename or folder), error.strerror or str(error)))

    for root, folders, names in os.walk(folder, onerror=report):
        folders.sort()
        files.extend(Path(root) / name for name in sorted(names) if Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return [path for path in files if path.is_file()] + unreadable


def _files(path: Path) -> list[Path | Unreadable]:
    return [path] if path.is_file() else _images_in(path) if path.is_dir() else []


def display_name(name: str | Path) -> str:
    """A file name as the output shows it: bytes that are not UTF-8 appear as `\\xNN`.

    Python decodes such bytes of a Linux file name to lone surrogates, which a UTF-8
    stdout (or the JSON and CSV written to it) cannot carry: the run died on the file.
    """
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def not_found(argument: str) -> dict:
    return error_item(display_name(argument), ImageError("not_found", "No such file or folder, and no match.", 404))


def score_file(path: Path | str, settings: Settings) -> dict:
    """The result item for one file (or `-`, standard input); never raises for a bad or unreadable file."""
    name = "<stdin>" if path == STDIN else display_name(path)
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read(settings.max_bytes + 1)
        else:
            # Read up to one byte past the limit: a pipe has no size to check first.
            with open(path, "rb") as handle:
                data = handle.read(settings.max_bytes + 1)
    except OSError as error:
        return error_item(name, ImageError("unreadable_file", f"The file cannot be read ({error.strerror}).", 400))
    if len(data) > settings.max_bytes:
        return error_item(name, too_many_bytes(len(data), settings.max_bytes))
    return predict_or_error(data, name, settings)


def unreadable_folder(entry: Unreadable) -> dict:
    message = f"The folder cannot be read ({entry.reason}); its images were not scored."
    return error_item(display_name(entry.path), ImageError("unreadable_file", message, 400))


def score(entry: Input, settings: Settings) -> dict:
    if isinstance(entry, Unreadable):
        return unreadable_folder(entry)
    if isinstance(entry, Path) or entry == STDIN:
        return score_file(entry, settings)
    return not_found(entry)


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


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to stderr meanwhile to /dev/null.

    LiteRT's C++ prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    file descriptor 2 when the model is loaded, and has no switch to turn it off
    (google-ai-edge/LiteRT#7420): stderr is where the CLI's own messages go, so a clean run
    should leave it empty. Only the load is wrapped; Python exceptions surface after it.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def predict_command(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_env()
    if args.model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=args.model_dir)
    try:
        with native_stderr_silenced():
            get_detector(settings)  # a mistyped folder is a usage error, not a traceback
    except (OSError, ValueError) as error:
        where = f"--model-dir {display_name(args.model_dir)}" if args.model_dir is not None else "the bundled model"
        print(f"imageauth: {where}: not a model folder ({error})", file=sys.stderr)
        return 2
    inputs = expand_inputs(args.paths)
    progress = tqdm(
        inputs, desc="predicting", unit="image", file=sys.stderr, disable=True if args.no_progress else None
    )
    results: list[dict] = []
    interrupted = False
    try:
        for entry in progress:
            results.append(score(entry, settings))
    except KeyboardInterrupt:
        interrupted = True  # the results so far are still written
    finally:
        progress.close()
    if args.format == "json":
        document = {"model_version": get_detector(settings).version, "results": results}
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        write_csv(results, out)
    else:
        write_table(results, out)
    if interrupted:
        print(f"imageauth: interrupted after {len(results)} of {len(inputs)} inputs", file=sys.stderr)
        return 130
    failed = sum("error" in item for item in results)
    if failed or not results:
        print(
            f"imageauth: {failed} of {len(results)} inputs failed" if results else "imageauth: no input files",
            file=sys.stderr,
        )
        return 1
    return 0


def _version() -> str:
    """The installed package's version, and the bundled model's is in every JSON output."""
    try:
        return importlib.metadata.version("imageauth")
    except importlib.metadata.PackageNotFoundError:  # the deployed app has no installed metadata
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imageauth",
        description="Real photograph or AI-generated image?",
        epilog=EXIT_STATUS,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict",
        help="score image files, folders (recursively) and globs",
        description="Score image files, folders (searched recursively for image file names, symlinked folders "
        "not followed) and globs (expanded here too when quoted; ** recurses). Each file is scored once.",
        epilog=EXIT_STATUS,
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="a file, a folder, a glob, or - for standard input")
    predict.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (default; names with control characters escaped), json (the API's response shape, with "
        "each result's note and evidence in full) or csv (with the note and a short evidence column)",
    )
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
