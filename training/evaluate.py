"""Stage `evaluate`: the trained model on the test split, at operating points chosen on validation.

Everything that turns scores into answers is decided here, on the
validation split, and only measured on test: the calibration temperature,
the threshold, flip averaging, and the unsure band (the narrowest band
around the threshold outside which validation accuracy reaches
`unsure_accuracy`). The same served function (flip-averaged, calibrated)
is then scored on the test split clean and under fixed perturbations, and
on a set of real camera photos through the serving decoder, because a
detector that is right on clean 32 px images and wrong on a re-saved photo
is not right.

Writes DVC metrics (`evaluate.json`, `robustness.json`), plots, per-image
test predictions for export's parity checks, and logs it all to the train
stage's MLflow run.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from training.arrays import load_split
from training.graph import load_trained_model, logit_function
from training.metrics import (
    apply_calibration,
    band_metrics,
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    fit_platt,
    fit_temperature,
    sigmoid,
    unsure_band,
)
from training.params import load_params
from training.prepare_base_model import architecture


def calibrate(method: str, y_val, val_logits, y_test, test_logits) -> tuple[dict, np.ndarray, np.ndarray]:
    """The calibration report and the calibrated validation and test probabilities.

    Both methods map a logit z to sigmoid((z + shift) / temperature), which
    folds into the output layer; temperature scaling keeps shift at 0.
    """
    val_probabilities, test_probabilities = sigmoid(val_logits), sigmoid(test_logits)
    if method == "none":
        return {"method": method, "temperature": 1.0, "logit_shift": 0.0}, val_probabilities, test_probabilities
    if method == "temperature":
        temperature, shift = fit_temperature(y_val, val_logits), 0.0
    elif method == "platt":
        temperature, shift = fit_platt(y_val, val_logits)
    else:
        raise ValueError(f"unknown calibration {method!r} (platt, temperature or none)")
    report = {
        "method": method,
        "temperature": temperature,
        "logit_shift": shift,
        "val_ece_uncalibrated": expected_calibration_error(y_val, val_probabilities),
        "test_ece_uncalibrated": expected_calibration_error(y_test, test_probabilities),
    }
    calibrated = (apply_calibration(logits, temperature, shift) for logits in (val_logits, test_logits))
    return report, *calibrated


def evaluate(
    data_dir: Path,
    train_dir: Path,
    output_dir: Path,
    plots_dir: Path,
    model_config: dict,
    section: dict,
    real_photos_dir: Path | None = None,
) -> dict:
    """Write the evaluation of `train_dir/model.weights.h5`; `section` is params.yaml's `evaluate`."""
    from training import evaluation_report, robustness

    flip = section["flip_average"]
    model = load_trained_model(train_dir / "model.weights.h5", model_config)
    x_val, y_val = load_split(data_dir, "val")
    x_test, y_test = load_split(data_dir, "test")
    logits = logit_function(model, flip)
    val_logits, test_logits = logits(x_val), logits(x_test)
    calibration, val_probabilities, test_probabilities = calibrate(
        section["calibration"], y_val, val_logits, y_test, test_logits
    )
    threshold = choose_threshold(y_val, val_probabilities, section["threshold"], section["target_fpr"])
    band = unsure_band(
        y_val, val_probabilities, threshold, section["unsure_accuracy"], section.get("unsure_confidence", 0.0)
    )
    report = {
        "threshold": threshold,
        "threshold_strategy": section["threshold"],
        "calibration": calibration,
        "flip_average": flip,
        "unsure_band": {**band, "test": band_metrics(y_test, test_probabilities, threshold, band["low"], band["high"])},
        "test": classification_metrics(y_test, test_probabilities, threshold),
        "val": classification_metrics(y_val, val_probabilities, threshold),
        "test_at_0.5": classification_metrics(y_test, test_probabilities, 0.5),
    }

    def served(images: np.ndarray) -> np.ndarray:
        return apply_calibration(logits(images), calibration["temperature"], calibration["logit_shift"])

    rows = robustness.robustness_table(x_test, y_test, served, threshold, clean_probability=test_probabilities)
    photos = (
        robustness.real_photo_rate(real_photos_dir, served, threshold, model_config["image_size"])
        if (real_photos_dir)
        else None
    )
    robust = {"conditions": {row.pop("condition"): row for row in rows}}
    if photos:
        robust["real_photos"] = {key: photos[key] for key in ("count", "called_fake", "share_called_fake")}
    output_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluate.json").write_text(json.dumps(report, indent=2))
    (output_dir / "robustness.json").write_text(json.dumps(robust, indent=2))
    if photos:
        (output_dir / "real_photos.json").write_text(json.dumps(photos["probabilities"], indent=1))
    _write_predictions(output_dir / "test_predictions.csv", data_dir, y_test, test_probabilities)
    evaluation_report.write_plots(x_test, y_test, test_probabilities, report, robust, section, plots_dir)
    evaluation_report.log_to_mlflow(train_dir / "train.json", report, robust, plots_dir)
    return {**report, "robustness": robust}


def _write_predictions(path: Path, data_dir: Path, labels: np.ndarray, probabilities: np.ndarray) -> None:
    """Per-image test predictions in array order, with the source file, for parity checks and audits."""
    with open(data_dir / "manifest.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "path", "sha256", "label", "probability_fake"])
        for index, (row, label, probability) in enumerate(zip(rows, labels, probabilities, strict=True)):
            writer.writerow([index, row["path"], row["sha256"], int(label), f"{probability:.6f}"])


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    params = load_params()
    section = params["evaluate"]
    report = evaluate(
        data_dir=Path(params["ingest"]["output_dir"]),
        train_dir=Path(params["train"]["output_dir"]),
        output_dir=Path(section["output_dir"]),
        plots_dir=Path(section["plots_dir"]),
        model_config=architecture(params),
        section={**section, "labels": params["base"]["labels"]},
        real_photos_dir=Path(section["real_photos"]) if section.get("real_photos") else None,
    )
    summary = {key: report[key] for key in ("threshold", "unsure_band", "test")}
    print(json.dumps({**summary, "robustness": report["robustness"]}, indent=2))


if __name__ == "__main__":
    main()
