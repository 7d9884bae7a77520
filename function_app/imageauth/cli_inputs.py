"""What the CLI's arguments name: files, folders, globs and standard input, each file once.

Folders are searched for image-named files; globs are expanded here too, for
shells (and quoting) that leave them alone; a folder that cannot be listed
becomes an error row rather than a silent gap.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from imageauth.preprocess import IMAGE_SUFFIXES

STDIN = "-"


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
