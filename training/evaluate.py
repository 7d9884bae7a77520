"""Stage `evaluate`: the trained Keras model on the test split, at a threshold chosen on validation.

Writes `metrics/evaluate.json` (DVC metrics), ROC/PR/confusion data (DVC
plots) and PNGs, the per-image test predictions that the export stage checks
its TFLite variants against, and logs all of it to the training MLflow run.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import keras
import mlflow
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from training import tracking
from training.arrays import load_split
from training.layers import HorizontalFlip
from training.metrics import (
    apply_temperature,
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    sigmoid,
)
from training.params import load_params
from training.plots import plot_confusion, plot_mistakes, plot_roc
from training.prepare_base_model import architecture, build_model


def load_trained_model(
    model_path: Path, model_config: dict, temperature: float = 1.0, flip_average: bool = False
) -> keras.Model:
    """Rebuild in float32 and load the trained weights, whatever precision training used.

    A calibration temperature is folded into the output layer: sigmoid((Wx + b) / T)
    is sigmoid((W / T) x + b / T), so the exported model needs no extra op and
    every runtime serves calibrated probabilities. `flip_average` wraps the
    model so that it also scores the mirror image (see `flip_averaged`).
    """
    keras.mixed_precision.set_global_policy("float32")
    model = build_model(seed=0, **{**model_config, "weights": None})
    model.load_weights(model_path)
    if temperature != 1.0:
        output = model.get_layer("probability_fake")
        kernel, bias = output.get_weights()
        output.set_weights([kernel / temperature, bias / temperature])
    return flip_averaged(model) if flip_average else model


def flip_averaged(model: keras.Model) -> keras.Model:
    """The model applied to an image and its mirror image, logits averaged, as one graph.

    Training flips half the images, so both views are in distribution and their
    errors partly cancel. The output layer is linear before its sigmoid, so
    averaging the two views' features and applying it once equals averaging the
    two logits - what `predict_logits(..., flip_average=True)` computes - and the
    exported model stays a single input -> P(fake) graph at twice the compute.
    """
    features = feature_extractor(model)
    image = keras.Input(shape=model.input_shape[1:], name="image")
    mirrored = HorizontalFlip(name="mirror")(image)
    averaged = keras.layers.Average(name="flip_average")([features(image), features(mirrored)])
    outputs = model.get_layer("probability_fake")(averaged)
    return keras.Model(image, outputs, name=f"{model.name}_flip_average")


def feature_extractor(model: keras.Model) -> keras.Model:
    """The plain model up to the output layer's input (the head's 256 features), sharing its weights."""
    return keras.Model(model.inputs, model.get_layer("head_dropout").output, name="vgg16_features")


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return model.predict(images.astype(np.float32), batch_size=batch_size, verbose=0).reshape(-1)


def predict_logits(
    model: keras.Model, images: np.ndarray, flip_average: bool = False, batch_size: int = 256
) -> np.ndarray:
    """The output layer's input to its sigmoid, in float64: what temperature scaling needs.

    `model` is the plain (unwrapped) model; with `flip_average` the logits of
    each image and its mirror image are averaged.
    """
    features = feature_extractor(model)
    kernel, bias = model.get_layer("probability_fake").get_weights()

    def logits(pixels: np.ndarray) -> np.ndarray:
        values = features.predict(pixels.astype(np.float32), batch_size=batch_size, verbose=0).astype(np.float64)
        return (values @ kernel.astype(np.float64) + bias.astype(np.float64)).reshape(-1)

    if flip_average:
        return (logits(images) + logits(images[:, :, ::-1])) / 2
    return logits(images)


def _write_curves(labels: np.ndarray, probabilities: np.ndarray, plots_dir: Path) -> None:
    fpr, tpr, _ = roc_curve(labels, probabilities)
    precision, recall, _ = precision_recall_curve(labels, probabilities)
    keep_roc = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 400)).astype(int))
    keep_pr = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), 400)).astype(int))
    (plots_dir / "roc.json").write_text(
        json.dumps({"roc": [{"fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in keep_roc]})
    )
    (plots_dir / "precision_recall.json").write_text(
        json.dumps({"pr": [{"recall": float(recall[i]), "precision": float(precision[i])} for i in keep_pr]})
    )


def evaluate(
    data_dir: Path,
    model_path: Path,
    train_info_path: Path,
    output_dir: Path,
    plots_dir: Path,
    model_config: dict,
    labels: list[str],
    threshold_strategy: str,
    target_fpr: float,
    calibration: str = "none",
    flip_average: bool = False,
) -> dict:
    model = load_trained_model(model_path, model_config)
    x_val, y_val = load_split(data_dir, "val")
    x_test, y_test = load_split(data_dir, "test")
    val_logits = predict_logits(model, x_val, flip_average)
    test_logits = predict_logits(model, x_test, flip_average)
    val_probabilities, test_probabilities = sigmoid(val_logits), sigmoid(test_logits)
    calibration_report = {"method": calibration, "temperature": 1.0}
    if calibration == "temperature":
        temperature = fit_temperature(y_val, val_logits)
        calibration_report = {
            "method": calibration,
            "temperature": temperature,
            "val_ece_uncalibrated": expected_calibration_error(y_val, val_probabilities),
            "test_ece_uncalibrated": expected_calibration_error(y_test, test_probabilities),
        }
        val_probabilities = apply_temperature(val_logits, temperature)
        test_probabilities = apply_temperature(test_logits, temperature)
    elif calibration != "none":
        raise ValueError(f"unknown calibration {calibration!r} (temperature or none)")
    threshold = choose_threshold(y_val, val_probabilities, threshold_strategy, target_fpr)

    report = {
        "threshold": threshold,
        "threshold_strategy": threshold_strategy,
        "temperature": calibration_report["temperature"],
        "calibration": calibration_report,
        "flip_average": flip_average,
        "test": classification_metrics(y_test, test_probabilities, threshold),
        "val": classification_metrics(y_val, val_probabilities, threshold),
        "test_at_0.5": classification_metrics(y_test, test_probabilities, 0.5),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluate.json").write_text(json.dumps(report, indent=2))
    _write_predictions(output_dir / "test_predictions.csv", data_dir, y_test, test_probabilities)
    predicted = (test_probabilities >= threshold).astype(int)
    with open(plots_dir / "confusion.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows((labels[a], labels[p]) for a, p in zip(y_test, predicted, strict=True))
    _write_curves(y_test, test_probabilities, plots_dir)
    plot_roc(y_test, test_probabilities, plots_dir / "roc.png")
    plot_confusion(y_test, predicted, labels, plots_dir / "confusion_matrix.png")
    plot_mistakes(x_test, y_test, test_probabilities, threshold, labels, plots_dir / "mistakes.png")
    _log_to_mlflow(train_info_path, report, plots_dir)
    return report


def _write_predictions(path: Path, data_dir: Path, labels: np.ndarray, probabilities: np.ndarray) -> None:
    """Per-image test predictions in array order, with the source file, for parity checks and audits."""
    with open(data_dir / "manifest.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "path", "sha256", "label", "probability_fake"])
        for index, (row, label, probability) in enumerate(zip(rows, labels, probabilities, strict=True)):
            writer.writerow([index, row["path"], row["sha256"], int(label), f"{probability:.6f}"])


def _log_to_mlflow(train_info_path: Path, report: dict, plots_dir: Path) -> None:
    tracking.configure()
    run_id = json.loads(train_info_path.read_text())["mlflow_run_id"]
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({"threshold": report["threshold"], "temperature": report["temperature"]})
        # A tag, not a param: a run may be evaluated again with the other setting.
        mlflow.set_tag("flip_average", str(report["flip_average"]).lower())
        for split in ("test", "val"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in report[split].items() if isinstance(v, float)})
        for name in ("roc.png", "confusion_matrix.png", "mistakes.png"):
            mlflow.log_artifact(str(plots_dir / name), "plots")


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    params = load_params()
    section = params["evaluate"]
    train_dir = Path(params["train"]["output_dir"])
    report = evaluate(
        data_dir=Path(params["ingest"]["output_dir"]),
        model_path=train_dir / "model.keras",
        train_info_path=train_dir / "train.json",
        output_dir=Path(section["output_dir"]),
        plots_dir=Path(section["plots_dir"]),
        model_config=architecture(params),
        labels=params["base"]["labels"],
        threshold_strategy=section["threshold"],
        target_fpr=section["target_fpr"],
        calibration=section["calibration"],
        flip_average=section.get("flip_average", False),
    )
    print(json.dumps({"threshold": report["threshold"], "test": report["test"]}, indent=2))


if __name__ == "__main__":
    main()
