"""Long mutation runs in one process: the check a native decoder must pass before the service reads its format.

Python can catch every decoder error but a crash: a segmentation fault in a
native library kills the server process with every request in it. This runs
`load_image` and `provenance.examine` on mutated copies of seed images (bit
flips, overwrites, cuts, deletions, repeats, inserted huge size fields: the
mutations of tests/reliability/test_reliability_fuzz.py) in one process, and
writes each input to `--current` before trying it, so a crash leaves the input
that caused it there (and faulthandler prints where). Inputs slower than 2 s
are kept too.

    python fuzz/fuzz_preprocess.py --make-seeds /tmp/seeds   # or a folder of your own files
    python fuzz/mutation_run.py /tmp/seeds --runs 300000 --seed 12

It found the crash that keeps HEIC out (docs/reliability.md, "Fuzzing").
"""

from __future__ import annotations

import argparse
import faulthandler
import random
import time
from collections import Counter
from pathlib import Path

SLOW_S = 2.0
HUGE_FIELDS = (b"\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0")


def mutate(data: bytes, rng: random.Random) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["flip", "overwrite", "truncate", "delete", "duplicate", "insert"])
        position = rng.randrange(max(len(mutated), 1))
        if kind == "flip" and mutated:
            mutated[position] ^= 1 << rng.randrange(8)
        elif kind == "overwrite":
            mutated[position : position + 4] = rng.randbytes(rng.randint(1, 8))
        elif kind == "truncate":
            del mutated[position:]
        elif kind == "delete":
            del mutated[position : position + rng.randint(1, 64)]
        elif kind == "duplicate":
            mutated[position:position] = mutated[position : position + rng.randint(1, 256)]
        else:
            mutated[position:position] = rng.choice(HUGE_FIELDS)
    return bytes(mutated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", type=Path, help="folder of seed images")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0, help="random seed: a run is reproducible")
    parser.add_argument("--current", type=Path, default=Path("mutation-current.bin"), help="the input being tried")
    args = parser.parse_args()
    faulthandler.enable()
    from imageauth import provenance
    from imageauth.preprocess import ImageError, load_image

    seeds = [path.read_bytes() for path in sorted(args.seeds.iterdir()) if path.is_file()]
    rng, outcomes, started = random.Random(args.seed), Counter(), time.perf_counter()
    for index in range(args.runs):
        data = mutate(rng.choice(seeds), rng)
        args.current.write_bytes(data)
        began = time.perf_counter()
        try:
            load_image(data, 32, max_pixels=4_000_000)
            provenance.examine(data)
            outcomes["verdict"] += 1
        except ImageError as error:
            outcomes[error.code] += 1
        if time.perf_counter() - began > SLOW_S:
            args.current.with_name(f"mutation-slow-{index}.bin").write_bytes(data)
            outcomes["slow"] += 1
        if index % 10_000 == 0:
            print(index, dict(outcomes), f"{time.perf_counter() - started:.0f} s", flush=True)
    print(f"{args.runs} inputs, no crash:", dict(outcomes), f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
