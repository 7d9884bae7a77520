"""Build CIFAKE's development split (the data the shipped model was trained on) from the Kaggle release.

The shipped model was not trained on the Kaggle zip as it comes: its `test/` is
CIFAKE's official test split, and the development split withholds that split so
that the shipped model can one day be measured on images nobody tuned against.
The development split is the official *train* split alone, 50,000 images a
class, of which the first 5,000 a class in SHA-256 order of the file's bytes
become `test/` and the rest `train/`. File names are kept, so ingest reads the
same images under the same names; the zip's own bytes differ (timestamps,
member order), so DVC re-runs ingest, whose decoded arrays then match `dvc.lock`.

    kaggle datasets download -d birdy654/cifake-real-and-ai-generated-synthetic-images
    python scripts/make_cifake_dev.py cifake-real-and-ai-generated-synthetic-images.zip data/cifake-dev.zip
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

CLASSES = ("REAL", "FAKE")
TEST_PER_CLASS = 5_000
# A fixed timestamp: the output depends only on the images, not on the day it was built.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def official_train_members(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """Class -> the member names of the official train split, wherever the Kaggle zip roots them."""
    members: dict[str, list[str]] = {label: [] for label in CLASSES}
    for name in archive.namelist():
        parts = PurePosixPath(name).parts
        if name.endswith("/") or len(parts) < 3 or parts[-3] != "train" or parts[-2] not in CLASSES:
            continue
        members[parts[-2]].append(name)
    return members


def development_split(source: Path, output: Path, test_per_class: int = TEST_PER_CLASS) -> dict[str, dict[str, int]]:
    """Write the development zip; return image counts per split and class."""
    counts: dict[str, dict[str, int]] = {"train": {}, "test": {}}
    with zipfile.ZipFile(source) as archive:
        members = official_train_members(archive)
        if not all(members.values()):
            raise ValueError(f"{source}: no train/REAL or train/FAKE images (is it the Kaggle CIFAKE zip?)")
        partial = output.with_name(output.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as target:
            for label, names in members.items():
                hashed = sorted(
                    (hashlib.sha256(archive.read(name)).hexdigest(), name) for name in tqdm(names, desc=label)
                )
                for rank, (_, name) in enumerate(hashed):
                    split = "test" if rank < test_per_class else "train"
                    entry = zipfile.ZipInfo(f"{split}/{label}/{PurePosixPath(name).name}", ZIP_DATE)
                    target.writestr(entry, archive.read(name))
                    counts[split][label] = counts[split].get(label, 0) + 1
    partial.replace(output)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kaggle_zip", type=Path, help="the Kaggle CIFAKE zip ({train,test}/{REAL,FAKE})")
    parser.add_argument("output", type=Path, help="where to write the development zip")
    parser.add_argument("--test-per-class", type=int, default=TEST_PER_CLASS)
    args = parser.parse_args()
    counts = development_split(args.kaggle_zip, args.output, args.test_per_class)
    summary = ", ".join(f"{split}/{label} {n:,}" for split, by_label in counts.items() for label, n in by_label.items())
    print(f"{args.output}: {summary}")


if __name__ == "__main__":
    main()
