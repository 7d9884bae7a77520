"""What the evaluate stage shows and records: DVC plot files, PNGs, and the MLflow run's metrics.

Kept apart from the numbers (training/evaluate.py) so the stage reads as
"decide on validation, measure on test", and this as "show it".
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from training.plots import plot_confusion, plot_mistakes, plot_roc  # noqa: E402


def plot_robustness(robust: dict, output: Path) -> None:
    """Accuracy, false-positive and false-negative rate per condition: where the model gives way."""
    names = list(robust["conditions"])
    rows = [robust["conditions"][name] for name in names]
    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(9, 4))
    axis.bar(positions - 0.25, [row["accuracy"] for row in rows], 0.25, label="accuracy")
    axis.bar(positions, [row["false_positive_rate"] for row in rows], 0.25, label="real called fake")
    axis.bar(positions + 0.25, [row["false_negative_rate"] for row in rows], 0.25, label="fake called real")
    if "real_photos" in robust:
        axis.axhline(
            robust["real_photos"]["share_called_fake"],
            color="crimson",
            linestyle="--",
            label=f"real camera photos called fake ({robust['real_photos']['count']})",
        )
    axis.set_xticks(positions, names, rotation=30, ha="right")
    axis.set_ylim(0, 1)
    axis.grid(axis="y", alpha=0.3)
    axis.set_title("Test split under fixed perturbations")
    axis.legend(fontsize=8, loc="center right")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)


def write_plots(images, labels, probabilities, report: dict, robust: dict, section: dict, plots_dir: Path) -> None:
    names, threshold = section["labels"], report["threshold"]
    predicted = (probabilities >= threshold).astype(int)
    with open(plots_dir / "confusion.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["actual", "predicted"])
        writer.writerows((names[a], names[p]) for a, p in zip(labels, predicted, strict=True))
    write_curves(labels, probabilities, plots_dir)
    plot_roc(labels, probabilities, plots_dir / "roc.png")
    plot_confusion(labels, predicted, names, plots_dir / "confusion_matrix.png")
    plot_mistakes(images, labels, probabilities, threshold, names, plots_dir / "mistakes.png")
    plot_robustness(robust, plots_dir / "robustness.png")


def log_to_mlflow(train_info_path: Path, report: dict, robust: dict, plots_dir: Path) -> None:
    """The evaluation, logged to the MLflow run that trained the model (none: a run folder not imported yet)."""
    from training import tracking
    from training.run_log import training_run

    run_id = json.loads(train_info_path.read_text()).get("mlflow_run_id")
    if not run_id or tracking.mlflow is None:
        return
    mlflow = tracking.mlflow
    with training_run(run_id):
        band = report["unsure_band"]
        mlflow.log_metrics(
            {
                "threshold": report["threshold"],
                "temperature": report["calibration"]["temperature"],
                "logit_shift": report["calibration"]["logit_shift"],
                "unsure_low": band["low"],
                "unsure_high": band["high"],
            }
        )
        # A tag, not a param: a run may be evaluated again with the other setting.
        mlflow.set_tag("flip_average", str(report["flip_average"]).lower())
        for split in ("test", "val"):
            mlflow.log_metrics({f"{split}_{k}": v for k, v in report[split].items() if isinstance(v, float)})
        for condition, row in robust["conditions"].items():
            mlflow.log_metrics({f"robust_{condition}_{k}": v for k, v in row.items()})
        if "real_photos" in robust:
            mlflow.log_metric("real_photos_share_called_fake", robust["real_photos"]["share_called_fake"])
        for name in ("roc.png", "confusion_matrix.png", "mistakes.png", "robustness.png"):
            mlflow.log_artifact(str(plots_dir / name), "plots")


def write_curves(labels: np.ndarray, probabilities: np.ndarray, plots_dir: Path) -> None:
    """ROC and precision-recall points (at most 400 each) as DVC plot data."""
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
