"""Stage `ingest`: fetch a Kaggle-layout dataset, decode every image once, split, save arrays.

Every image goes through `imageauth.preprocess.load_image`, the same function
the serving side calls, so the pixels the model trains on are exactly the
pixels it will be served. The output is one uint8 array per split plus a
manifest whose rows are in array order, so any prediction can be traced back
to its file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from imageauth.preprocess import IMAGE_SUFFIXES, ImageError, load_image
from training.arrays import save_split
from training.params import load_params
from training.sources import fetch
from training.split import Record, assign_splits

SPLITS = ("train", "val", "test")


def _kaggle_parts(name: str, class_names: dict[str, str]) -> tuple[str, str] | None:
    """(split, label) for a path like `any/prefix/train/REAL/x.jpg`, else None."""
    parts = PurePosixPath(name).parts
    for index in range(len(parts) - 2):
        split, folder = parts[index].lower(), parts[index + 1].upper()
        if split in ("train", "test") and folder in class_names:
            return split, class_names[folder]
    return None


def iter_dataset_files(root: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (relative path, bytes) of the image files in a zip or a folder."""
    if root.is_file():
        with zipfile.ZipFile(root) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if not info.is_dir() and PurePosixPath(info.filename).suffix.lower() in IMAGE_SUFFIXES:
                    yield info.filename, archive.read(info)
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.relative_to(root).as_posix(), path.read_bytes()


def count_files(root: Path) -> int:
    if root.is_file():
        with zipfile.ZipFile(root) as archive:
            return sum(1 for info in archive.infolist() if not info.is_dir())
    return sum(1 for path in root.rglob("*") if path.is_file())


def ingest(
    source: str,
    output_dir: Path,
    image_size: int,
    labels: list[str],
    val_fraction: float,
    seed: int,
    endpoint_url: str | None = None,
    cache_dir: Path = Path("data/cache"),
) -> dict:
    """Build `output_dir/{split}_images.npy`, `{split}_labels.npy`, `manifest.csv` and `report.json`."""
    root = fetch(source, cache_dir, endpoint_url)
    class_names = {label.upper(): label for label in labels}
    records: list[Record] = []
    pixels_by_path: dict[str, np.ndarray] = {}
    rejected: list[dict] = []
    files = iter_dataset_files(root)
    for name, data in tqdm(files, total=count_files(root), desc="decode", unit="img"):
        place = _kaggle_parts(name, class_names)
        if place is None:
            continue
        try:
            image = load_image(data, image_size)
        except ImageError as error:
            rejected.append({"path": name, "code": error.code, "message": error.message})
            continue
        split, label = place
        digest = hashlib.sha256(data).hexdigest()
        records.append(Record(name, label, split, digest, image.width, image.height))
        pixels_by_path[name] = image.pixels
    _require_every_class(records, labels, root)

    records, split_report = assign_splits(records, val_fraction, seed)
    output_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        rows = [r for r in records if r.split == split]
        images = (
            np.stack([pixels_by_path[r.path] for r in rows])
            if rows
            else np.zeros((0, image_size, image_size, 3), np.uint8)
        )
        save_split(output_dir, split, images, np.array([labels.index(r.label) for r in rows], np.uint8))
    _write_manifest(output_dir / "manifest.csv", records)
    report = {
        "source": source,
        "image_size": image_size,
        "labels": labels,
        "counts": {
            split: dict(sorted(Counter(r.label for r in records if r.split == split).items())) for split in SPLITS
        },
        **asdict(split_report),
        "rejected_count": len(rejected),
        "rejected": rejected,
    }
    (output_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _require_every_class(records: list[Record], labels: list[str], root: Path) -> None:
    found = Counter((r.split, r.label) for r in records)
    for split in ("train", "test"):
        for label in labels:
            if found[(split, label)] == 0:
                raise ValueError(
                    f"no usable images for class {label.upper()!r} in {split}/ of {root} "
                    f"(expected {split}/{label.upper()}/*.jpg)"
                )


def _write_manifest(path: Path, records: list[Record]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Record.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    params = load_params()
    report = ingest(
        source=params["ingest"]["source"],
        output_dir=Path(params["ingest"]["output_dir"]),
        image_size=params["base"]["image_size"],
        labels=params["base"]["labels"],
        val_fraction=params["ingest"]["val_fraction"],
        seed=params["base"]["seed"],
        endpoint_url=params["ingest"].get("endpoint_url"),
    )
    print(json.dumps({k: v for k, v in report.items() if k != "rejected"}, indent=2))


if __name__ == "__main__":
    main()
