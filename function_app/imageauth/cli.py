"""`imageauth predict PATH...`: the detector on local files, folders and globs.

The same core as the API (`predict_or_error`), so a file gets the same
probability here as over HTTP. Output goes to stdout as a table, JSON (the
API's response shape) or CSV; the progress bar goes to stderr, so piping the
output stays clean. Exit status: 0 when every input got a verdict, 1 when one
did not (or there was none, or the model does not load), 2 for a usage error,
130 when interrupted (the results so far are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from imageauth.cli_inputs import STDIN, Input, Unreadable, display_name, expand_inputs
from imageauth.cli_output import write_csv, write_table
from imageauth.predict import error_item, get_detector, predict_or_error
from imageauth.preprocess import ImageError, too_many_bytes
from imageauth.settings import Settings

EXIT_STATUS = (
    "exit status: 0 every input got a verdict, 1 one did not (or there was no input, or the model "
    "does not load), "
    "2 usage error, 130 interrupted (the results so far are written)"
)


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


@contextlib.contextmanager
def native_stderr_held() -> Iterator[None]:
    """Hold what native code writes to stderr meanwhile; replay it only if the block fails.

    LiteRT's C++ prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    file descriptor 2 when the model is loaded, and has no switch to turn it off
    (google-ai-edge/LiteRT#7420): stderr is where the CLI's own messages go, so a clean run
    should leave it empty. A load that fails keeps what LiteRT said about why.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to keep clean
        yield
        return
    finished = False
    with tempfile.TemporaryFile() as held:
        try:
            os.dup2(held.fileno(), 2)
            yield
            finished = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not finished:
                held.seek(0)
                os.write(2, held.read())


def load_model(settings: Settings, model_dir: str | None) -> int | None:
    """Load the model before any input is read; an exit status when it cannot be loaded.

    A `--model-dir` that is no model folder is a usage error (2); the bundled model (or
    IMAGEAUTH_MODEL_DIR's) failing to load is a broken installation (1). Either is one line,
    not a traceback.
    """
    try:
        with native_stderr_held():
            get_detector(settings)
    except (OSError, ValueError) as error:
        if model_dir is not None:
            print(f"imageauth: --model-dir {display_name(model_dir)}: not a model folder ({error})", file=sys.stderr)
            return 2
        where = f"the model in {display_name(settings.model_dir)}" if settings.model_dir else "the bundled model"
        print(f"imageauth: {where} cannot be loaded ({error})", file=sys.stderr)
        return 1
    return None


def predict_command(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_env()
    if args.model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=args.model_dir)
    try:
        failed = load_model(settings, args.model_dir)
    except KeyboardInterrupt:
        print("imageauth: interrupted before any input was scored", file=sys.stderr)
        return 130
    if failed is not None:
        return failed
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
    if sys.stderr is None:
        # Started with stderr closed: Python has no sys.stderr (the progress bar and the messages
        # would fail), and the next file opened would take descriptor 2, where native code writes.
        # /dev/null takes it instead.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - open for the whole process
    args = build_parser().parse_args(argv)
    return predict_command(args, out or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
