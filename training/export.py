"""Stage `export`: TFLite variants of a trained model, checked with LiteRT, the smallest good one shipped.

Three variants are converted: float32, dynamic-range (int8 weights, float
activations) and full-integer int8 (activations calibrated on training
images). Each is evaluated by `imageauth.model.Detector` - the class the API
uses - on the whole test split at the threshold chosen in `evaluate`. The
smallest variant whose accuracy is within `max_accuracy_drop` of the Keras
model is written as `model.tflite` with its model card `model.json`, logged
to MLflow and registered in the Model Registry.

`--run best` (or `export.run: best`) exports the best MLflow run of the
experiment by a validation metric instead of this pipeline's own model.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import tensorflow as tf
from mlflow.tracking import MlflowClient

from imageauth.model import Detector
from training import tracking
from training.arrays import load_split
from training.evaluate import load_trained_model, predict_probabilities
from training.metrics import classification_metrics
from training.params import load_params
from training.prepare_base_model import architecture

VARIANTS = ("float32", "dynamic_range", "int8")
LIMITATIONS = [
    "Input is 32x32 pixels: a large photo is judged from a 32x32 downscale of its central square, "
    "so generator artefacts finer than that are invisible to the model.",
    "Trained only on CIFAR-10 photographs (real) and Stable Diffusion 1.4 images of the same ten "
    "classes (fake); other generators, subjects, edits, screenshots and heavy compression are out "
    "of distribution and the verdict there is unreliable.",
    "A verdict is a statistical estimate, not proof of origin.",
]


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


def best_run(metric: str) -> str:
    """The run of the experiment with the highest `metric` (a validation metric, never a test one)."""
    tracking.configure()
    experiment = mlflow.get_experiment_by_name(tracking.EXPERIMENT)
    runs = mlflow.search_runs(
        [experiment.experiment_id],
        filter_string=f"metrics.{metric} > 0",
        order_by=[f"metrics.{metric} DESC"],
        max_results=1,
    )
    if runs.empty:
        raise LookupError(f"no MLflow run in {tracking.EXPERIMENT!r} has metric {metric!r}")
    return str(runs.iloc[0]["run_id"])


def _model_source(run: str, train_dir: Path, metrics_dir: Path, metric: str) -> dict:
    """Where the Keras model, its threshold and its training summary come from."""
    if run == "current":
        train_info = json.loads((train_dir / "train.json").read_text())
        evaluation = json.loads((metrics_dir / "evaluate.json").read_text())
        return {
            "model_path": train_dir / "model.keras",
            "run_id": train_info["mlflow_run_id"],
            "threshold": evaluation["threshold"],
            "threshold_strategy": evaluation["threshold_strategy"],
            "temperature": evaluation.get("temperature", 1.0),
            "flip_average": evaluation.get("flip_average", False),
            "training": train_info,
        }
    if run != "best":
        raise ValueError(f"export.run must be 'current' or 'best', not {run!r}")
    run_id = best_run(metric)
    client = MlflowClient()
    data = client.get_run(run_id).data
    if "threshold" not in data.metrics:
        raise LookupError(f"run {run_id} was never evaluated (no 'threshold' metric)")
    model_path = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="keras_model/model.keras"))
    return {
        "model_path": model_path,
        "run_id": run_id,
        "threshold": data.metrics["threshold"],
        "threshold_strategy": data.params.get("evaluate.threshold", "unknown"),
        "temperature": data.metrics.get("temperature", 1.0),
        "flip_average": data.tags.get("flip_average") == "true",
        "training": _training_summary(run_id, data),
    }


def _training_summary(run_id: str, data) -> dict:
    """The run's own train.json (every CPU and GPU run logs one), or what its metrics and tags say."""
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="training/train.json")
        return json.loads(Path(path).read_text())
    except (OSError, mlflow.exceptions.MlflowException):
        return {
            "mlflow_run_id": run_id,
            "val_accuracy": data.metrics.get("best_val_accuracy"),
            "val_loss": data.metrics.get("best_val_loss"),
            "hardware": data.tags.get("hardware"),
        }


def export(
    run: str,
    best_metric: str,
    data_dir: Path,
    train_dir: Path,
    metrics_dir: Path,
    output_dir: Path,
    model_config: dict,
    labels: list[str],
    max_accuracy_drop: float,
    representative_images: int,
    seed: int,
    params: dict,
) -> dict:
    tracking.configure()
    source = _model_source(run, train_dir, metrics_dir, best_metric)
    threshold = float(source["threshold"])
    model = load_trained_model(source["model_path"], model_config, source["temperature"], source["flip_average"])
    x_train, _ = load_split(data_dir, "train")
    x_test, y_test = load_split(data_dir, "test")
    keras_probabilities = predict_probabilities(model, x_test)
    keras_metrics = classification_metrics(y_test, keras_probabilities, threshold)
    rng = np.random.default_rng(seed)
    representative = x_train[rng.choice(len(x_train), min(representative_images, len(x_train)), replace=False)]

    results, blobs = {}, {}
    with tempfile.TemporaryDirectory() as directory:
        saved_model = Path(directory) / "saved_model"
        model.export(str(saved_model), format="tf_saved_model", verbose=False)
        for variant in VARIANTS:
            blobs[variant] = convert(saved_model, variant, representative)
            results[variant] = evaluate_variant(blobs[variant], x_test, y_test, threshold, keras_probabilities)
            print(
                f"{variant}: {results[variant]['size_bytes'] / 1e6:.1f} MB, "
                f"accuracy {results[variant]['accuracy']:.4f}",
                flush=True,
            )
    chosen = choose_variant(results, keras_metrics["accuracy"], max_accuracy_drop)
    card = _model_card(
        chosen, blobs[chosen], results, keras_metrics, source, threshold, labels, model_config, data_dir, params
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "model.tflite").write_bytes(blobs[chosen])
    (output_dir / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    reference = _reference_predictions(data_dir, y_test, keras_probabilities, blobs[chosen], x_test, threshold)
    (output_dir / "reference_predictions.json").write_text(json.dumps(reference, indent=1) + "\n")
    metrics_dir.mkdir(parents=True, exist_ok=True)
    summary = {"chosen": chosen, "keras": keras_metrics, "variants": results, "version": card["version"]}
    (metrics_dir / "export.json").write_text(json.dumps(summary, indent=2))
    _register(source["run_id"], output_dir, results[chosen])
    return card


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


def _model_card(
    chosen, model_bytes, results, keras_metrics, source, threshold, labels, model_config, data_dir, params
) -> dict:
    ingest_report = json.loads((data_dir / "report.json").read_text())
    return {
        "name": "imageauth VGG16 real-vs-AI-generated detector",
        "version": hashlib.sha256(model_bytes).hexdigest()[:12],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "variant": chosen,
        "image_size": model_config["image_size"],
        "input": "RGB uint8 values as float32, shape [1, size, size, 3]; VGG16 preprocessing is inside the model",
        "output": "P(fake), float32 in [0, 1]",
        "labels": labels,
        "threshold": threshold,
        "threshold_strategy": source["threshold_strategy"],
        "threshold_note": "chosen on the validation split (carved from train), never on test",
        "calibration": {
            "temperature": source["temperature"],
            "note": "temperature scaling fitted on the validation split, folded into the output layer (1.0: none)",
        },
        "flip_average": {
            "enabled": source["flip_average"],
            "note": "the model scores the image and its mirror image and averages the logits, in one graph",
        },
        "metrics": results[chosen],
        "metrics_keras": keras_metrics,
        "variants": results,
        "dataset": {
            "source": Path(str(ingest_report["source"])).name,
            "counts": ingest_report["counts"],
            "duplicates_dropped": ingest_report.get("duplicates_dropped", 0),
            "rejected": ingest_report.get("rejected_count", 0),
        },
        "training": source["training"],
        "weights_init": params["prepare_base_model"]["weights"],
        "mlflow_run_id": source["run_id"],
        "params": params,
        "limitations": LIMITATIONS,
    }


def _register(run_id: str, output_dir: Path, metrics: dict) -> None:
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifact(str(output_dir / "model.tflite"), "tflite")
        mlflow.log_artifact(str(output_dir / "model.json"), "tflite")
        mlflow.log_metrics({f"tflite_{k}": v for k, v in metrics.items() if isinstance(v, float)})
        artifact_uri = mlflow.get_artifact_uri("tflite")
    client = MlflowClient()
    try:
        client.get_registered_model(tracking.REGISTERED_MODEL)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(tracking.REGISTERED_MODEL)
    client.create_model_version(tracking.REGISTERED_MODEL, source=artifact_uri, run_id=run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", choices=["current", "best"], help="override export.run from params.yaml")
    arguments = parser.parse_args()
    params = load_params()
    section = params["export"]
    card = export(
        run=arguments.run or section["run"],
        best_metric=section["best_metric"],
        data_dir=Path(params["ingest"]["output_dir"]),
        train_dir=Path(params["train"]["output_dir"]),
        metrics_dir=Path(params["evaluate"]["output_dir"]),
        output_dir=Path(section["output_dir"]),
        model_config=architecture(params),
        labels=params["base"]["labels"],
        max_accuracy_drop=section["max_accuracy_drop"],
        representative_images=section["representative_images"],
        seed=params["base"]["seed"],
        params=params,
    )
    print(json.dumps({k: card[k] for k in ("version", "variant", "threshold", "metrics")}, indent=2))


if __name__ == "__main__":
    main()
