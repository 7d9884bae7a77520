"""Install the function app's requirements into its package, built for the runtime's Linux, not this one's.

Flex Consumption runs the uploaded package as it is (no remote build), so the
wheels must load on the Functions host. pip picks the newest wheel the *build*
machine can run: on a GitHub runner (Ubuntu 24.04, glibc 2.39) that is
cryptography's `manylinux_2_34` wheel, which fails to load on the Python 3.11
Functions runtime, built on Debian 11 with glibc 2.31 ("GLIBC_2.33 not found
... cryptography/hazmat/bindings/_rust.abi3.so",
Azure/azure-functions-python-worker#1651). Only the blob path imports it
(azure-identity, azure-storage-blob), so the HTTP smoke test would still pass
while every blob failed. Naming the platforms the runtime can load keeps pip
to those wheels, whatever machine builds the package.

Usage: python scripts/install_package_deps.py REQUIREMENTS TARGET
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PYTHON_VERSION = "3.11"  # the runtime's Python: main.bicep's pythonVersion, deploy.yml's PYTHON_VERSION
RUNTIME_GLIBC_MINOR = 31  # glibc 2.31 (Debian 11), the Python 3.11 Functions image
OLDEST_GLIBC_MINOR = 17  # manylinux2014, the oldest policy current wheels are built for


def platform_tags(glibc_minor: int = RUNTIME_GLIBC_MINOR) -> list[str]:
    """Every manylinux tag a glibc 2.`glibc_minor` x86-64 host loads, newest first.

    pip expands only the legacy names (manylinux2014 to 2010 and 1), not
    `manylinux_2_28` to `manylinux_2_27` and below, so each is named.
    """
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(glibc_minor, OLDEST_GLIBC_MINOR - 1, -1)]
    return [*tags, "manylinux2014_x86_64"]


def pip_command(requirements: Path, target: Path) -> list[str]:
    platforms = [option for tag in platform_tags() for option in ("--platform", tag)]
    return [
        *(sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-compile"),
        *("--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION, *platforms),
        *("--target", str(target), "-r", str(requirements)),
    ]


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    return subprocess.run(pip_command(Path(sys.argv[1]), Path(sys.argv[2])), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
