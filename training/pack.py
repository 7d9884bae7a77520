"""Carry the ingested training data to another machine as the original encoded files.

An accelerator machine rented by the minute may accept only a few tens of MiB
of upload (the one used for the shipped model took 64 MiB, repository
included). The decoded arrays of CIFAKE's train and val splits are 270 MB;
the JPEG files they came from are 82 MB, and their headers are nearly all
alike, so one compressed pack of them is 27 MB. The other side decodes them
with the serving code's own `load_image`, as `ingest` did, and checks the
SHA-256 of the result against the arrays `ingest` wrote here: what trains
there is bit for bit what would have trained here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import zipfile
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from pathlib import Path

import numpy as np

from training.arrays import load_split

PACKED_SPLITS = ("train", "val")


def array_digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def write_pack(data_dir: Path, source_zip: Path, output: Path, splits: tuple[str, ...] = PACKED_SPLITS) -> dict:
    """Pack the files behind `data_dir`'s splits (in array order) from the zip that `ingest` read."""
    with open(data_dir / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(source_zip) as archive:
        prefix = _zip_prefix(archive, rows[0]["path"])
        for split in splits:
            blobs = [archive.read(prefix + row["path"]) for row in rows if row["split"] == split]
            offsets = np.cumsum([0] + [len(blob) for blob in blobs], dtype=np.int64)
            images, split_labels = load_split(data_dir, split, mmap_mode="r")
            if len(blobs) != len(images):
                raise ValueError(f"{split}: manifest lists {len(blobs)} files, the arrays hold {len(images)}")
            arrays[f"{split}_files"] = np.frombuffer(b"".join(blobs), np.uint8)
            arrays[f"{split}_offsets"] = offsets
            arrays[f"{split}_labels"] = split_labels
            arrays[f"{split}_digest"] = np.array(array_digest(images))
            arrays[f"{split}_shape"] = np.array(images.shape)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **arrays)
    return {"output": str(output), "bytes": output.stat().st_size, "splits": list(splits)}


def _zip_prefix(archive: zipfile.ZipFile, first_path: str) -> str:
    """The folder the zip wraps the Kaggle layout in, if any (ingest strips it the same way)."""
    for name in archive.namelist():
        if name.endswith(first_path):
            return name[: -len(first_path)]
    raise KeyError(f"{first_path} is not in the zip")


def _decode_chunk(args: tuple[bytes, np.ndarray, int]) -> np.ndarray:
    from imageauth.preprocess import load_image

    files, offsets, size = args
    return np.stack([load_image(files[a:b], size).pixels for a, b in pairwise(offsets)])


def read_pack(path: Path, workers: int = 8) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode a pack into `{split: (images, labels)}`; raise if any split differs from the arrays packed."""
    pack = np.load(path)
    result = {}
    splits = sorted({key.rsplit("_", 1)[0] for key in pack.files})
    for split in splits:
        files = pack[f"{split}_files"].tobytes()
        offsets = pack[f"{split}_offsets"]
        shape = tuple(pack[f"{split}_shape"])
        bounds = np.linspace(0, len(offsets) - 1, workers + 1, dtype=int)
        chunks = [
            (files[offsets[a] : offsets[b]], offsets[a : b + 1] - offsets[a], shape[1]) for a, b in pairwise(bounds)
        ]
        with ProcessPoolExecutor(workers) as pool:
            images = np.concatenate(list(pool.map(_decode_chunk, chunks)))
        if images.shape != shape or array_digest(images) != str(pack[f"{split}_digest"]):
            raise ValueError(f"{split}: decoding here gives other pixels than ingest did (Pillow/libjpeg version?)")
        result[split] = (images, pack[f"{split}_labels"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="ingest's output folder (arrays + manifest.csv)")
    parser.add_argument("source_zip", type=Path, help="the zip ingest read")
    parser.add_argument("output", type=Path)
    arguments = parser.parse_args()
    print(write_pack(arguments.data_dir, arguments.source_zip, arguments.output))


if __name__ == "__main__":
    main()
