"""Stage `export`: this pipeline's trained model as TFLite, checked with LiteRT, the smallest good variant shipped.

Three variants are converted from the served graph that evaluate measured
(flip-averaged, calibration folded in; training/graph.py): float32,
dynamic-range (int8 weights, float activations) and full-integer int8
(activations calibrated on training images). Each is evaluated by
`imageauth.model.Detector` - the class the API uses - on the whole test split
at evaluate's threshold. The smallest variant whose accuracy is within
`max_accuracy_drop` of the Keras model is written as `model.tflite` with its
card (training/model_card.py), logged to the training run in MLflow and
registered in the Model Registry. There is no "best run" selection: what
ships is what the stages before this one made, as dvc.lock records.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from imageauth.model import Detector
from training.arrays import load_split
from training.graph import load_trained_model, predict_probabilities
from training.metrics import classification_metrics
from training.model_card import lineage, model_card
from training.params import load_params
from training.prepare_base_model import architecture

VARIANTS = ("float32", "dynamic_range", "int8")


def convert(saved_model_dir: Path, variant: str, representative: np.ndarray) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if variant in ("dynamic_range", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "int8":

        def samples():
            for image in representative:
                yield [image[np.newaxis].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Builtin ops only: the LiteRT runtime in the function app has no Flex (TensorFlow) kernels.
    if variant != "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def latency_ms(detector: Detector, image: np.ndarray, repeats: int = 100) -> float:
    detector.predict(image)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        detector.predict(image)
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.median(timings))


def evaluate_variant(
    model_bytes: bytes, images: np.ndarray, labels: np.ndarray, threshold: float, keras_probabilities: np.ndarray
) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.tflite"
        path.write_bytes(model_bytes)
        detector = Detector(path, {"threshold": threshold}, num_threads=1)
        probabilities = detector.predict(images)
        result = classification_metrics(labels, probabilities, threshold)
        result["size_bytes"] = len(model_bytes)
        result["latency_ms_per_image"] = latency_ms(detector, images[:1])
        result["max_abs_diff_vs_keras"] = float(np.abs(probabilities - keras_probabilities).max())
        result["mean_abs_diff_vs_keras"] = float(np.abs(probabilities - keras_probabilities).mean())
        result["verdict_agreement_vs_keras"] = float(
            ((probabilities >= threshold) == (keras_probabilities >= threshold)).mean()
        )
    return result


def choose_variant(results: dict[str, dict], keras_accuracy: float, max_drop: float) -> str:
    good = [name for name in VARIANTS if results[name]["accuracy"] >= keras_accuracy - max_drop]
    return min(good or ["float32"], key=lambda name: results[name]["size_bytes"])


def export(
    data_dir: Path,
    train_dir: Path,
    metrics_dir: Path,
    output_dir: Path,
    params: dict,
    lock_path: Path = Path("dvc.lock"),
) -> dict:
    """Convert, check and ship this pipeline's trained model; `params` is the whole params.yaml."""
    section, model_config = params["export"], architecture(params)
    train_info = json.loads((train_dir / "train.json").read_text())
    evaluation = json.loads((metrics_dir / "evaluate.json").read_text())
    robust = json.loads((metrics_dir / "robustness.json").read_text())
    record = lineage(lock_path, train_info.get("mlflow_run_id"), train_info.get("initialised_from"))
    _check_not_stale(record.get("train_params"), params)
    threshold = float(evaluation["threshold"])
    model = load_trained_model(
        train_dir / "model.weights.h5",
        model_config,
        evaluation["calibration"]["temperature"],
        evaluation["flip_average"],
        evaluation["calibration"]["logit_shift"],
    )
    x_train, _ = load_split(data_dir, "train")
    x_test, y_test = load_split(data_dir, "test")
    keras_probabilities = predict_probabilities(model, x_test)
    keras_metrics = classification_metrics(y_test, keras_probabilities, threshold)
    rng = np.random.default_rng(params["base"]["seed"])
    count = min(section["representative_images"], len(x_train))
    representative = x_train[rng.choice(len(x_train), count, replace=False)]

    results, blobs = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        saved_model = Path(directory) / "saved_model"
        model.export(str(saved_model), format="tf_saved_model", verbose=False)
        for variant in tqdm(VARIANTS, desc="convert and check", unit="variant"):
            blobs[variant] = convert(saved_model, variant, representative)
            results[variant] = evaluate_variant(blobs[variant], x_test, y_test, threshold, keras_probabilities)
            tqdm.write(f"{variant}: {len(blobs[variant]) / 1e6:.1f} MB, accuracy {results[variant]['accuracy']:.4f}")
    chosen = choose_variant(results, keras_metrics["accuracy"], section["max_accuracy_drop"])
    context = {
        "labels": params["base"]["labels"],
        "model_config": model_config,
        "ingest_report": json.loads((data_dir / "report.json").read_text()),
        "params": params,
        "lineage": record,
    }
    card = model_card(blobs[chosen], chosen, results, keras_metrics, evaluation, robust, train_info, context)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "model.tflite").write_bytes(blobs[chosen])
    (output_dir / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    reference = _reference_predictions(data_dir, y_test, keras_probabilities, blobs[chosen], x_test, threshold)
    (output_dir / "reference_predictions.json").write_text(json.dumps(reference, indent=1) + "\n")
    metrics_dir.mkdir(parents=True, exist_ok=True)
    summary = {"chosen": chosen, "keras": keras_metrics, "variants": results, "version": card["version"]}
    (metrics_dir / "export.json").write_text(json.dumps(summary, indent=2))
    if train_info.get("mlflow_run_id"):
        register(train_info["mlflow_run_id"], output_dir, results[chosen])
    return card


def _check_not_stale(trained_with: dict | None, params: dict) -> None:
    """Refuse to ship weights whose recorded training parameters are not the ones in params.yaml now."""
    if not trained_with:
        return
    for section, values in trained_with.items():
        if params.get(section) != values:
            raise RuntimeError(
                f"dvc.lock says the model was trained with other `{section}` parameters than params.yaml "
                "holds now: run `dvc repro` so that what ships is what these parameters make"
            )


def _reference_predictions(data_dir, labels, keras_probabilities, model_bytes, images, threshold, per_class=24):
    """A fixed sample of test files with the Keras and shipped-model probabilities, shipped with the model.

    The model tests re-decode these files from the dataset (when it is present)
    and check that LiteRT, the API and the CLI still give these numbers.
    """
    with open(data_dir / "manifest.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "test"]
    chosen = []
    for label in (0, 1):
        members = sorted((i for i in range(len(rows)) if labels[i] == label), key=lambda i: rows[i]["sha256"])
        chosen.extend(members[:per_class])
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.tflite"
        path.write_bytes(model_bytes)
        shipped = Detector(path, {"threshold": threshold}).predict(images[chosen])
    return [
        {
            "path": rows[i]["path"],
            "sha256": rows[i]["sha256"],
            "label": int(labels[i]),
            "keras_probability_fake": round(float(keras_probabilities[i]), 6),
            "model_probability_fake": float(probability),
        }
        for i, probability in zip(chosen, shipped, strict=True)
    ]


def register(run_id: str, output_dir: Path, metrics: dict) -> None:
    """Log the shipped file and its card to the training run (or its stand-in) and register a model version."""
    from training import tracking
    from training.run_log import training_run

    mlflow = tracking.mlflow
    with training_run(run_id) as logged_to:
        mlflow.log_artifact(str(output_dir / "model.tflite"), "tflite")
        mlflow.log_artifact(str(output_dir / "model.json"), "tflite")
        mlflow.log_metrics({f"tflite_{k}": v for k, v in metrics.items() if isinstance(v, float)})
        artifact_uri = mlflow.get_artifact_uri("tflite")
    client = mlflow.tracking.MlflowClient()
    try:
        client.get_registered_model(tracking.REGISTERED_MODEL)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(tracking.REGISTERED_MODEL)
    client.create_model_version(tracking.REGISTERED_MODEL, source=artifact_uri, run_id=logged_to)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    params = load_params()
    card = export(
        data_dir=Path(params["ingest"]["output_dir"]),
        train_dir=Path(params["train"]["output_dir"]),
        metrics_dir=Path(params["evaluate"]["output_dir"]),
        output_dir=Path(params["export"]["output_dir"]),
        params=params,
    )
    print(json.dumps({key: card[key] for key in ("version", "variant", "threshold", "unsure_band", "scope")}, indent=2))


if __name__ == "__main__":
    main()
