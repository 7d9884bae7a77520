"""Pictures a person would rather look at than read: learning curves, ROC, confusion matrix, mistakes."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay  # noqa: E402


def plot_learning_curves(history_csv: Path, output: Path) -> None:
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = np.arange(1, len(rows) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        axis.plot(epochs, [float(r[metric]) for r in rows], marker="o", label=f"train {metric}")
        axis.plot(epochs, [float(r[f"val_{metric}"]) for r in rows], marker="o", label=f"val {metric}")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)


def plot_roc(labels: np.ndarray, probabilities: np.ndarray, output: Path) -> None:
    figure, axis = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(labels, probabilities, ax=axis, name="test", pos_label=1)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axis.set_title("ROC (positive class: fake)")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)


def plot_confusion(labels: np.ndarray, predicted: np.ndarray, names: list[str], output: Path) -> None:
    figure, axis = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay.from_predictions(
        labels, predicted, display_labels=names, ax=axis, colorbar=False, values_format="d"
    )
    axis.set_title("Confusion matrix (test)")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)


def plot_mistakes(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    threshold: float,
    names: list[str],
    output: Path,
    count: int = 24,
) -> None:
    """A grid of the most confident mistakes: where the model is wrong and sure of itself."""
    predicted = (probabilities >= threshold).astype(int)
    wrong = np.flatnonzero(predicted != labels)
    confidence = np.abs(probabilities[wrong] - threshold)
    chosen = wrong[np.argsort(-confidence)][:count]
    columns = 8
    rows = max(1, -(-len(chosen) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.4, rows * 1.6), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, chosen, strict=False):
        axis.imshow(images[index], interpolation="nearest")
        axis.set_title(f"{names[labels[index]]}\np(fake)={probabilities[index]:.2f}", fontsize=7)
    figure.suptitle("Most confident mistakes (true label, predicted P(fake))", fontsize=9)
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)
