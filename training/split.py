"""The one place where images are assigned to train, val and test.

The test split is the dataset's own `test/` folder and is never re-split.
Images are identified by content hash: a duplicate inside a split is kept
once, a training image whose bytes also appear in `test/` is dropped (CIFAKE
has such copies), and a hash seen with both labels is dropped everywhere.
Validation is carved from what remains of `train/`, per label, with a fixed
seed, over unique hashes, so no image can be in two splits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Record:
    path: str
    label: str
    split: str  # "train" or "test" as found in the dataset; becomes train/val/test here
    sha256: str
    width: int
    height: int


@dataclass
class SplitReport:
    duplicates_dropped: int = 0
    train_copies_of_test_dropped: int = 0
    conflicting_labels_dropped: int = 0


def assign_splits(records: list[Record], val_fraction: float, seed: int) -> tuple[list[Record], SplitReport]:
    report = SplitReport()
    labels_by_hash: dict[str, set[str]] = defaultdict(set)
    for record in records:
        labels_by_hash[record.sha256].add(record.label)
    conflicting = {digest for digest, labels in labels_by_hash.items() if len(labels) > 1}

    test_hashes = {r.sha256 for r in records if r.split == "test"}
    seen: set[str] = set()
    kept: list[Record] = []
    # Test first, so that a copy present in both folders stays in test.
    for record in sorted(records, key=lambda r: (r.split != "test", r.path)):
        if record.sha256 in conflicting:
            report.conflicting_labels_dropped += 1
        elif record.sha256 in seen:
            if record.split == "train" and record.sha256 in test_hashes:
                report.train_copies_of_test_dropped += 1
            else:
                report.duplicates_dropped += 1
        else:
            seen.add(record.sha256)
            kept.append(record)

    rng = random.Random(seed)
    result = [r for r in kept if r.split == "test"]
    for label in sorted({r.label for r in kept}):
        train_records = sorted((r for r in kept if r.split == "train" and r.label == label), key=lambda r: r.sha256)
        rng.shuffle(train_records)
        n_val = round(len(train_records) * val_fraction)
        result.extend(replace(r, split="val") for r in train_records[:n_val])
        result.extend(train_records[n_val:])
    order = {"train": 0, "val": 1, "test": 2}
    result.sort(key=lambda r: (order[r.split], r.path))
    return result, report
