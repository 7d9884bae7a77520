"""The split: one place, by content hash, test folder untouched, no image in two splits."""

from __future__ import annotations

from collections import Counter

from training.split import Record, assign_splits


def record(path: str, label: str, split: str, digest: str) -> Record:
    return Record(path=path, label=label, split=split, sha256=digest, width=32, height=32)


def test_no_hash_in_two_splits_and_test_is_the_test_folder():
    records = [record(f"train/{i}", "real" if i % 2 else "fake", "train", f"h{i}") for i in range(200)]
    records += [record(f"test/{i}", "real" if i % 2 else "fake", "test", f"t{i}") for i in range(40)]
    # Copies: one train image duplicated in train, one train image that is also in test.
    records.append(record("train/dup", "real", "train", "h1"))
    records.append(record("train/copy-of-test", "fake", "train", "t0"))

    result, report = assign_splits(records, val_fraction=0.2, seed=7)

    splits_by_hash: dict[str, set[str]] = {}
    for item in result:
        splits_by_hash.setdefault(item.sha256, set()).add(item.split)
    assert all(len(splits) == 1 for splits in splits_by_hash.values())
    assert Counter(item.sha256 for item in result).most_common(1)[0][1] == 1
    assert {item.path for item in result if item.split == "test"} == {f"test/{i}" for i in range(40)}
    assert report.duplicates_dropped == 1
    assert report.train_copies_of_test_dropped == 1
    counts = Counter((item.split, item.label) for item in result)
    assert counts[("val", "real")] == counts[("val", "fake")] == 20  # stratified: 20 % of 100 per label


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
    records = [record(f"train/{i}", "real", "train", f"h{i}") for i in range(50)]
    records += [record("test/0", "real", "test", "t0")]
    first, _ = assign_splits(records, 0.2, seed=1)
    again, _ = assign_splits(list(reversed(records)), 0.2, seed=1)
    other, _ = assign_splits(records, 0.2, seed=2)
    val = {r.path for r in first if r.split == "val"}
    assert val == {r.path for r in again if r.split == "val"}
    assert val != {r.path for r in other if r.split == "val"}


def test_a_hash_with_two_labels_is_dropped_everywhere():
    records = [
        record("train/a", "real", "train", "same"),
        record("test/b", "fake", "test", "same"),
        record("train/c", "real", "train", "other"),
        record("test/d", "fake", "test", "d"),
    ]
    result, report = assign_splits(records, 0.0, seed=0)
    assert "same" not in {r.sha256 for r in result}
    assert report.conflicting_labels_dropped == 2
