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


def origin(card: dict) -> str:
    start = card["training"].get("initialised_from")
    if start and start.get("model_version"):
        return f"fine-tuned from model `{start['model_version']}`, base weights `{card['weights_init']}`"
    return f"from scratch, weights `{card['weights_init']}`" if card["weights_init"] == "none" else card["weights_init"]


def calibration_line(calibration: dict) -> str:
    temperature, shift = calibration.get("temperature", 1.0), calibration.get("logit_shift", 0.0)
    if temperature == 1.0 and not shift:
        return "- **Calibration**: none."
    method = calibration.get("method", "temperature")
    formula = f"sigmoid((logit {'+' if shift >= 0 else '-'} {abs(shift):.3f}) / {temperature:.3f})"
    return (
        f"- **Calibration**: {'Platt' if method == 'platt' else method} scaling, P(fake) = {formula}, fitted on "
        "the validation split and folded into the output layer."
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
    start = training.get("initialised_from")
    started = (
        f"fine-tuned from the dequantised weights of model `{start['model_version']}` "
        f"({percent(start['test_accuracy'])} dev-test) for "
        if start and start.get("model_version")
        else "from scratch, "
    )
    trained = (
        f"{started}{training['epochs_run']} epochs ({status}), best epoch {training['best_epoch']} by validation "
        f"loss, {duration(training['training_seconds'])} on {where(training)}, through `dvc repro` "
        f"(MLflow run `{card.get('mlflow_run_id')}`)."
    )
    calibration = calibration_line(card.get("calibration", {}))
    lines = [
        f"- **Model** `{card['version']}`: VGG16 ({origin(card)}) + dense head, "
        f"32x32 RGB input, {VARIANT_NAMES[card['variant']]} TFLite, {shipped['size_bytes'] / 2**20:.1f} MiB.",
        f"- **Data**: CIFAKE development split ({card['dataset']['source']}): {train_images:,} train / "
        f"{val_images:,} validation / {test_images:,} test images after removing "
        f"{card['dataset']['duplicates_dropped']} duplicates by content hash.",
        f"- **Training**: {trained}",
        calibration,
        "- **Flip averaging**: the model scores each image and its mirror image and averages the two logits, "
        "inside the exported graph (twice the compute of one view)."
        if card.get("flip_average", {}).get("enabled")
        else "- **Flip averaging**: none (one view per image).",
        f"- **Threshold** {card['threshold']:.3f} (`{card['threshold_strategy']}`: {card['threshold_note']}).",
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
    lines += robustness_lines(card) + target_lines(card)
    return "\n".join(lines) + "\n"


CONDITIONS = {
    "clean": "clean",
    "jpeg_q90": "JPEG q90",
    "jpeg_q75": "JPEG q75",
    "jpeg_q50": "JPEG q50",
    "resize_0.75": "0.75x resize and back (bicubic)",
    "thumbnail_256": "256-px bicubic thumbnail, served",
    "blur_0.5": "Gaussian blur sigma 0.5",
    "blur_1.0": "Gaussian blur sigma 1.0",
    "noise_3": "Gaussian noise sigma 3/255",
}
ROBUST_AT_95 = ("jpeg_q50", "blur_0.5", "resize_0.75", "thumbnail_256")


def robustness_lines(card: dict) -> list[str]:
    """The perturbation table, the real-photo check, the unsure band and the scope, from the card."""
    robust = card.get("robustness")
    if not robust:
        return []
    lines = [
        "",
        "Robustness on the same test split, each perturbation fixed and seeded (Keras model as served:"
        " flip-averaged, calibrated; `metrics/robustness.json`):",
        "",
        "| condition | accuracy | ROC-AUC | real called fake | fake called real | verdicts flipped vs clean |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in robust["conditions"].items():
        lines.append(
            f"| {CONDITIONS.get(name, name)} | {percent(row['accuracy'])} | {row['roc_auc']:.4f} | "
            f"{percent(row['false_positive_rate'])} | {percent(row['false_negative_rate'])} | "
            f"{percent(row['flipped_vs_clean'])} |"
        )
    photos = robust.get("real_photos")
    if photos:
        lines += [
            "",
            f"- **Real camera photos** (> 256 px, `training/real_photos.json`, through `load_image`): "
            f"{photos['called_fake']} of {photos['count']} called fake ({percent(photos['share_called_fake'])}).",
        ]
    band, scope = card.get("unsure_band"), card.get("scope")
    if band:
        test = band["test"]
        lines.append(
            f"- **Unsure band** {band['low']:.3f} <= P(fake) < {band['high']:.3f} (chosen on validation"
            + (
                f" so that the {band['confidence'] * 100:.0f} % lower confidence bound of accuracy outside it reaches "
                f"{percent(band['target_accuracy'])}"
                if band.get("confidence")
                else ""
            )
            + "): "
            f'{percent(test["share_inside"])} of dev-test images fall inside and get "unsure"; outside it '
            f"accuracy is {percent(test['accuracy_outside'])}, and the band holds {percent(test['errors_inside'])} "
            "of all errors."
        )
    if scope:
        limit = scope["max_short_side"]
        lines.append(
            f"- **Scope**: verdicts from the score for images whose short side is at most {limit} px; larger "
            'images get "unsure" unless evidence decides.'
            if limit
            else "- **Scope**: no size limit."
        )
    return lines


def target_rows(card: dict) -> list[tuple[str, float, str, float]]:
    """Issue 13's and 14's acceptance figures: (requirement, value from the card, ">=" or "<=", target)."""
    robust = card.get("robustness", {}).get("conditions")
    if not robust:
        return []
    shipped, photos = card["metrics"], card["robustness"].get("real_photos", {})
    rows = [
        ("dev-test accuracy, clean", shipped["accuracy"], ">=", 0.97),
        *((f"accuracy, {CONDITIONS[name]}", robust[name]["accuracy"], ">=", 0.95) for name in ROBUST_AT_95),
        ("accuracy, Gaussian blur sigma 1.0", robust["blur_1.0"]["accuracy"], ">=", 0.90),
        ("large real photos called fake", photos.get("share_called_fake", float("nan")), "<=", 0.10),
        ("ECE", shipped["ece"], "<=", 0.015),
        ("verdicts identical, Keras vs LiteRT", shipped["verdict_agreement_vs_keras"], ">=", 0.995),
    ]
    band = card.get("unsure_band", {}).get("test")
    if band:
        rows += [
            ("dev-test accuracy outside the unsure band", band["accuracy_outside"], ">=", 0.99),
            ("dev-test images outside the unsure band", 1 - band["share_inside"], ">=", 0.90),
        ]
    return [*rows, ("size (MB)", shipped["size_bytes"] / 1e6, "<=", 16.0)]


def is_met(value: float, sign: str, target: float) -> bool:
    return value >= target if sign == ">=" else value <= target  # a missing value (nan) is never met


def shown(what: str, value: float) -> str:
    return f"{value:.1f} MB" if what == "size (MB)" else percent(value)


def shown_target(what: str, sign: str, target: float) -> str:
    return f"{sign} {target:g} MB" if what == "size (MB)" else f"{sign} {target * 100:g} %"


def target_lines(card: dict) -> list[str]:
    """The target rows as a table, each marked met or not."""
    rows = target_rows(card)
    if not rows:
        return []
    lines = [
        "",
        "Against the targets of issues 13 and 14 (robust figures: Keras as served):",
        "",
        "| requirement | shipped | target | |",
        "| --- | --- | --- | --- |",
    ]
    for what, value, sign, target in rows:
        met = "met" if is_met(value, sign, target) else "**not met**"
        lines.append(
            f"| {what.removesuffix(' (MB)')} | {shown(what, value)} | {shown_target(what, sign, target)} | {met} |"
        )
    return lines


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
