"""Write the shipped model's figures into README.md and docs/model.md from its model card.

The numbers people read must be the numbers the export stage measured: this
script renders them from `function_app/model/model.json` into the blocks
between `<!-- model-card:start -->` and `<!-- model-card:end -->`, and
`tests/model/test_model_docs.py` fails when a block no longer matches the card.

Usage: python scripts/model_report.py [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARD_PATH = ROOT / "function_app/model/model.json"
DOCUMENTS = [ROOT / "README.md", ROOT / "docs/model.md"]
BLOCK = re.compile(r"(<!-- model-card:start -->\n)(.*?)(<!-- model-card:end -->)", re.DOTALL)
VARIANT_NAMES = {"float32": "float32", "dynamic_range": "dynamic-range (int8 weights)", "int8": "full-integer int8"}


def percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def where(training: dict) -> str:
    return training["hardware"].removeprefix("no GPU + ") + (
        f" ({training['framework']})" if "framework" in training else ""
    )


def render(card: dict) -> str:
    training = card["training"]
    counts = card["dataset"]["counts"]
    shipped = card["metrics"]
    keras = card["metrics_keras"]
    train_images = sum(counts["train"].values())
    val_images = sum(counts["val"].values())
    test_images = sum(counts["test"].values())
    status = "complete" if training.get("complete", True) else "stopped early (time limit); best epoch so far"
    compared = training.get("compared_runs", {})
    chosen_from = (
        f"; the best by validation accuracy of {len(compared)} configurations trained side by side"
        if len(compared) > 1
        else ""
    )
    if "continued_from" in training:
        parent = training["continued_from"]
        trained = (
            f"{parent['epochs_run']} epochs (best {parent['best_epoch']} by validation loss) in "
            f"{duration(parent['training_seconds'])} on {where(parent)}, then continued at a low learning rate for "
            f"{training['epochs_run']} epochs ({status}) in {duration(training['training_seconds'])} on "
            f"{where(training)}, best epoch {training['best_epoch']} by validation loss{chosen_from}."
        )
    else:
        trained = (
            f"{training['epochs_run']} epochs ({status}), best epoch {training['best_epoch']} by validation loss, "
            f"{duration(training['training_seconds'])} on {where(training)}{chosen_from}."
        )
    temperature = card.get("calibration", {}).get("temperature", 1.0)
    lines = [
        f"- **Model** `{card['version']}`: VGG16 from scratch (weights `{card['weights_init']}`) + dense head, "
        f"32x32 RGB input, {VARIANT_NAMES[card['variant']]} TFLite, {shipped['size_bytes'] / 2**20:.1f} MiB.",
        f"- **Data**: CIFAKE development split ({card['dataset']['source']}): {train_images:,} train / "
        f"{val_images:,} validation / {test_images:,} test images after removing "
        f"{card['dataset']['duplicates_dropped']} duplicates by content hash.",
        f"- **Training**: {trained}",
        f"- **Calibration**: temperature {temperature:.3f}, fitted on the validation split and folded into the "
        "output layer."
        if temperature != 1.0
        else "- **Calibration**: none.",
        "- **Flip averaging**: the model scores each image and its mirror image and averages the two logits, "
        "inside the exported graph (twice the compute of one view)."
        if card.get("flip_average", {}).get("enabled")
        else "- **Flip averaging**: none (one view per image).",
        f"- **Threshold** {card['threshold']:.3f} ({card['threshold_strategy']}, chosen on the validation split).",
        "",
        f"CIFAKE dev-test ({shipped['images']:,} images never used for training or tuning):",
        "",
        "| model | accuracy | precision | recall | F1 | ROC-AUC | ECE | size | LiteRT latency |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| Keras (float32) | {percent(keras['accuracy'])} | {percent(keras['precision'])} | "
        f"{percent(keras['recall'])} | {percent(keras['f1'])} | {keras['roc_auc']:.4f} | {percent(keras['ece'])} "
        "| | |",
    ]
    for name, variant in card["variants"].items():
        label = VARIANT_NAMES[name] + (" **(shipped)**" if name == card["variant"] else "")
        lines.append(
            f"| {label} | {percent(variant['accuracy'])} | {percent(variant['precision'])} | "
            f"{percent(variant['recall'])} | {percent(variant['f1'])} | {variant['roc_auc']:.4f} | "
            f"{percent(variant['ece'])} | {variant['size_bytes'] / 2**20:.1f} MiB | "
            f"{variant['latency_ms_per_image']:.2f} ms |"
        )
    return "\n".join(lines) + "\n"


def update(text: str, block: str) -> str:
    if not BLOCK.search(text):
        raise ValueError("no <!-- model-card:start --> ... <!-- model-card:end --> block")
    return BLOCK.sub(lambda match: match[1] + block + match[3], text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a document is out of date")
    arguments = parser.parse_args()
    block = render(json.loads(CARD_PATH.read_text()))
    stale = []
    for document in DOCUMENTS:
        text = document.read_text()
        updated = update(text, block)
        if updated != text:
            stale.append(document)
            if not arguments.check:
                document.write_text(updated)
    if arguments.check and stale:
        print("out of date:", ", ".join(str(path.relative_to(ROOT)) for path in stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
