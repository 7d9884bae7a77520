"""Start-up cost of the blob trigger's SDK-type binding: `import function_app`, before and after.

Not a test: run it by hand (niced, on a quiet machine if you can):

    nice .venv/bin/python bench/blob_binding.py [--ref GIT_REF]

Why: binding the trigger to a `BlobClient` (azurefunctions-extensions-bindings-blob) bounds a
blob's memory, but the extension imports the Azure Storage and Identity SDKs when the worker
indexes `function_app.py`, which the `InputStream` binding did not. This builds two deploy
packages as deploy.yml does (bench/deploy_package.py: each app's own requirements, runtime
wheels, pruned, with bytecode), one for the current `function_app/` and one for the app at
`--ref` (default: the last commit with the `InputStream` binding), and times fresh processes
that see only the package from start to `import function_app` done (what a Functions worker
does before its first invocation), interleaved run by run, and writes
bench/results/blob_binding.json. (Timed in the development venv instead, the cost was larger:
the venv has aiohttp, which the Azure SDK imports whenever it can; the package does not.
Hence `-I -S` in bench/deploy_package.py: with the venv's site-packages on the path, aiohttp
loaded from there even behind the package.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from deploy_package import REPO, build, compile_bytecode, run_isolated

RUNS = 9
PROBE = """
import sys, time
start = time.perf_counter()
sys.path[:0] = sys.argv[1:3]
import function_app
print(time.perf_counter() - start)
"""


def last_input_stream_commit() -> str:
    """The newest commit whose function_app.py still bound the trigger to an InputStream."""
    log = ["git", "log", "--format=%H", "-S", "func.InputStream", "--", "function_app/function_app.py"]
    newest = subprocess.run(log, cwd=REPO, capture_output=True, text=True, check=True).stdout.split()[0]
    parent = ["git", "rev-parse", f"{newest}^"]
    return subprocess.run(parent, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def import_seconds(package: Path) -> float:
    return float(run_isolated(package, PROBE).split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default=None, help="git ref of the baseline function_app.py")
    ref = parser.parse_args().ref or last_input_stream_commit()
    with tempfile.TemporaryDirectory() as folder:
        # The baseline is the app as it was at `ref`, with the requirements it had.
        archive = subprocess.run(["git", "archive", ref, "function_app"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        sources = {"InputStream binding": Path(folder) / "function_app", "BlobClient binding": REPO / "function_app"}
        trees = {
            name: build(Path(folder) / f"package-{index}", source)
            for index, (name, source) in enumerate(sources.items())
        }
        for tree in trees.values():
            compile_bytecode(tree)
            import_seconds(tree)  # page cache warm for both
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(RUNS):
            for name, tree in trees.items():
                runs[name].append(import_seconds(tree))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    added = medians["BlobClient binding"] - medians["InputStream binding"]
    print(f"{'import function_app (fresh process)':<38}{'median (s)':>12}{'min (s)':>10}")
    for name, values in runs.items():
        print(f"{name:<38}{medians[name]:>12.3f}{min(values):>10.3f}")
    ratio = medians["BlobClient binding"] / medians["InputStream binding"]
    print(f"the SDK-type binding adds {added:.3f} s ({ratio:.2f}x)")
    # "git_commit": the key the secrets scan's baseline exempts for a commit hash.
    result = {"git_commit": ref, "runs_s": runs, "median_s": medians, "added_s": added, "ratio": ratio}
    (REPO / "bench" / "results" / "blob_binding.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
