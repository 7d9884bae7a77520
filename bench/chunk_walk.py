"""The chunk walks every PNG and WebP upload pays for before decoding: a git revision against the working tree.

Two readers walk a file's chunks (`manifest_markers.manifest_size` for a C2PA
store, `skipped_metadata` for metadata Pillow skips); since they share one
walker (`imageauth/container_chunks.py`), this checks that the shared generator
costs no more than the loops it replaced, on an ordinary 12 MP PNG and on the
worst floods the walk lets through (65,536 empty chunks):

    nice .venv/bin/python bench/chunk_walk.py --before ef5505d   # the commit before the shared walker

Each tree runs in its own fresh process, the two interleaved `--rounds` times,
so a busy machine slows both alike; each round times `--runs` calls per file
and keeps the median. Results go to bench/results/chunk_walk.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from before_after import REPO_ROOT, export_tree, save_report

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "chunk_walk.json"
FLOOD = 65_536

WORKER = """
import json, sys, time
from imageauth import manifest_markers, skipped_metadata
late = getattr(skipped_metadata, "png_info_after_pixels", None) or skipped_metadata.png_text_after_pixels
calls = {
    "png": lambda data: (manifest_markers.manifest_size(data), late(data, 262144)),
    "webp": lambda data: (manifest_markers.manifest_size(data), skipped_metadata.webp_chunk(data, b"XMP ", 262144)),
}
runs = int(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    call = calls[path.rsplit(".", 1)[1]]
    call(data)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call(data)
        times.append(time.perf_counter() - started)
    times.sort()
    out[path.rsplit("/", 1)[1]] = times[len(times) // 2]
print(json.dumps(out))
"""


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_files(folder: Path) -> list[Path]:
    """A 12 MP photo-like PNG (Pillow writes its pixels in 64 KiB IDAT chunks) and two chunk floods."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).resize((4000, 3000), Image.BICUBIC)
    buffer = io.BytesIO()
    base.save(buffer, "PNG", compress_level=1)
    photo = buffer.getvalue()
    tiny = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiny, "PNG")
    head, tail = tiny.getvalue()[:-12], tiny.getvalue()[-12:]  # tail: the IEND chunk
    empty = png_chunk(b"tIME", bytes(7))
    riff_body = b"WEBP" + b"VP8L" + struct.pack("<I", 0) + b"JUNK\x00\x00\x00\x00" * FLOOD
    files = {
        "photo-12mp.png": photo,
        "flood-after-pixels.png": head + empty * FLOOD + tail,
        "flood.webp": b"RIFF" + struct.pack("<I", len(riff_body)) + riff_body,
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


def run_worker(app_dir: Path, files: list[Path], runs: int) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGEAUTH_")}
    env["PYTHONPATH"] = str(app_dir)
    command = [sys.executable, "-c", WORKER, str(runs), *map(str, files)]
    return json.loads(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="HEAD", help="git revision to compare against (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per tree")
    parser.add_argument("--runs", type=int, default=50, help="calls per file in each process")
    args = parser.parse_args()
    samples: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    with tempfile.TemporaryDirectory() as folder:
        files = make_files(Path(folder))
        trees = {"before": export_tree(args.before, Path(folder) / "before"), "after": REPO_ROOT / "function_app"}
        for index in range(args.rounds):
            for name in trees if index % 2 == 0 else reversed(trees):
                for file, seconds in run_worker(trees[name], files, args.runs).items():
                    samples[name].setdefault(file, []).append(seconds)
    medians = {
        tree: {file: statistics.median(seconds) * 1000 for file, seconds in by_file.items()}
        for tree, by_file in samples.items()
    }
    report = {
        "before": args.before,
        "unit": "ms (median of the rounds' medians)",
        "medians": medians,
        "ratio_after_to_before": {file: medians["after"][file] / medians["before"][file] for file in medians["after"]},
    }
    ratios = report["ratio_after_to_before"].items()
    rows = [[file, medians["before"][file], medians["after"][file], ratio] for file, ratio in ratios]
    save_report(report, RESULTS_PATH, ["file (manifest walk + metadata walk)", "before ms", "after ms", "ratio"], rows)


if __name__ == "__main__":
    main()
