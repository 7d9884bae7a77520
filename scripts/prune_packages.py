"""Remove from an installed package folder the files that no Python process ever loads.

c2pa-python's wheel ships, beside the shared library it loads (`libc2pa_c.so`),
the Rust static library it was linked from (`libc2pa_c.rlib`, about 30 MB) and a
make-style dependency file (`libc2pa_c.d`): build artefacts, a third of the deploy
package for nothing. The deploy workflow and the deploy-package test both run this
after `pip install --target`, so what is tested is what ships.

Usage: python scripts/prune_packages.py SITE_PACKAGES_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

# Paths relative to the site-packages folder, as globs.
BUILD_ARTEFACTS = ("c2pa/libs/*.rlib", "c2pa/libs/*.d")


def prune(site_packages: Path) -> dict[Path, int]:
    """Delete the build artefacts under `site_packages`; return each deleted path with its size."""
    removed = {}
    for pattern in BUILD_ARTEFACTS:
        for path in sorted(site_packages.glob(pattern)):
            removed[path] = path.stat().st_size
            path.unlink()
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    removed = prune(Path(argv[0]))
    names = ", ".join(path.name for path in removed) or "none"
    print(f"pruned {len(removed)} build artefacts ({sum(removed.values()) / 2**20:.1f} MiB): {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
