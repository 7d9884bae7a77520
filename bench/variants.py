"""TFLite variants side by side: size, LiteRT latency and accuracy, against float32 as the baseline.

The export stage measures every variant in one run (whole test split through
`imageauth.model.Detector`, median single-image LiteRT latency over 100
invokes, one thread); this script prints those numbers as a table with ratios
to float32 and writes them to bench/results/variants.json.

Usage: python bench/variants.py [metrics/export.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tabulate import tabulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("export_json", type=Path, nargs="?", default=Path("metrics/export.json"))
    parser.add_argument("--output", type=Path, default=Path("bench/results/variants.json"))
    arguments = parser.parse_args()
    export = json.loads(arguments.export_json.read_text())
    baseline = export["variants"]["float32"]
    rows, result = [], {"source": str(arguments.export_json), "chosen": export["chosen"], "variants": {}}
    for name, variant in export["variants"].items():
        size_ratio = variant["size_bytes"] / baseline["size_bytes"]
        speedup = baseline["latency_ms_per_image"] / variant["latency_ms_per_image"]
        rows.append(
            [
                name + (" (shipped)" if name == export["chosen"] else ""),
                f"{variant['size_bytes'] / 2**20:.1f} MiB",
                f"{size_ratio:.2f}x",
                f"{variant['latency_ms_per_image']:.2f} ms",
                f"{speedup:.2f}x",
                f"{variant['accuracy'] * 100:.2f} %",
                f"{(variant['accuracy'] - export['keras']['accuracy']) * 100:+.2f}",
                f"{variant['max_abs_diff_vs_keras']:.4f}",
            ]
        )
        result["variants"][name] = {
            "size_bytes": variant["size_bytes"],
            "size_vs_float32": size_ratio,
            "latency_ms_per_image": variant["latency_ms_per_image"],
            "speedup_vs_float32": speedup,
            "accuracy": variant["accuracy"],
            "accuracy_vs_keras_points": (variant["accuracy"] - export["keras"]["accuracy"]) * 100,
            "max_abs_diff_vs_keras": variant["max_abs_diff_vs_keras"],
        }
    print(f"Keras accuracy: {export['keras']['accuracy'] * 100:.2f} % on {export['keras']['images']} test images")
    print(
        tabulate(
            rows,
            headers=[
                "variant",
                "size",
                "vs fp32",
                "latency",
                "speed vs fp32",
                "accuracy",
                "vs Keras (points)",
                "max |dP|",
            ],
        )
    )
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
