"""PNG figures of the metric results for reports.

Figures are built on `matplotlib.figure.Figure`, which renders with Agg; no pyplot figure is
ever created, so no GUI backend starts: safe inside Slicer's Qt process and in worker threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

from .classification import BinaryClassificationResult
from .froc import FrocResult
from .multiclass import MulticlassResult

DPI = 120


def save_figure(figure: Figure, path) -> Path:
    """Lay out and write a figure as PNG (folders created); the path back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _chance_diagonal(ax) -> None:
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="1 - specificity (false positive rate)", ylabel="sensitivity")


def plot_roc(result: BinaryClassificationResult, path, title: str = "ROC curve") -> Path:
    """ROC curve with its AUC, the Youden-optimal cut-off and the evaluated threshold marked."""
    figure = Figure(figsize=(5, 5))
    ax = figure.add_subplot()
    ax.plot(result.roc.fpr, result.roc.tpr, label=f"{result.positive_label} (AUC {result.roc.auc:.3f})")
    _chance_diagonal(ax)
    youden = result.youden
    ax.plot(1 - youden.specificity, youden.sensitivity, "o", color="crimson",
            label=f"Youden cut-off {youden.threshold:.3g} (J {youden.youden_index:.2f})")
    ax.plot(1 - result.specificity, result.recall, "s", color="black", fillstyle="none",
            label=f"threshold {result.threshold:.3g}")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return save_figure(figure, path)


def plot_loss_curves(
    history: Mapping[str, Sequence[float]], path, title: str = "Training", ylabel: str = "loss"
) -> Path:
    """One line per series (e.g. {"train": [...], "validation": [...]}), one value per epoch."""
    figure = Figure(figsize=(6, 4))
    ax = figure.add_subplot()
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=name)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend()
    return save_figure(figure, path)


def plot_confusion_matrix(
    result: BinaryClassificationResult | MulticlassResult, path, title: str = "Confusion matrix"
) -> Path:
    """Counts with class names: rows are the truth, columns the prediction."""
    if isinstance(result, BinaryClassificationResult):
        names = [result.negative_label, result.positive_label]
    else:
        names = result.class_names
    figure = Figure(figsize=(max(4.0, 0.8 * len(names) + 2), max(3.5, 0.7 * len(names) + 1.5)))
    ax = figure.add_subplot()
    ConfusionMatrixDisplay(np.asarray(result.confusion_matrix), display_labels=names).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45 if len(names) > 2 else "horizontal"
    )
    ax.set_title(title)
    return save_figure(figure, path)


def plot_one_vs_rest_roc(result: MulticlassResult, path, title: str = "One-vs-rest ROC") -> Path:
    figure = Figure(figsize=(5.5, 5))
    ax = figure.add_subplot()
    for name, roc in result.roc_curves.items():
        ax.plot(roc.fpr, roc.tpr, label=f"{name} (AUC {roc.auc:.3f})")
    _chance_diagonal(ax)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return save_figure(figure, path)


def plot_precision_recall(result: MulticlassResult, path, title: str = "One-vs-rest precision-recall") -> Path:
    figure = Figure(figsize=(5.5, 5))
    ax = figure.add_subplot()
    for name, curve in result.pr_curves.items():
        ax.step(curve.recall, curve.precision, where="post", label=f"{name} (AP {curve.average_precision:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall (sensitivity)", ylabel="precision (PPV)", title=title)
    ax.legend(loc="lower left", fontsize="small")
    return save_figure(figure, path)


def plot_froc(result: FrocResult, path, title: str = "FROC") -> Path:
    """Lesion-wise sensitivity against false positives per patient, with the operating point."""
    figure = Figure(figsize=(6, 4.5))
    ax = figure.add_subplot()
    # Straight lines between the points: the interpolation the FROC score uses.
    ax.plot(result.fps_per_patient, result.sensitivity, marker=".", label=f"FROC score {result.froc_score:.3f}")
    ax.plot(result.eval_fps_per_patient, result.sensitivity_at_eval_fps, "x", color="grey", label="evaluation rates")
    ax.plot(result.operating_fps_per_patient, result.operating_sensitivity, "o", color="crimson",
            label=f"threshold {result.operating_threshold:.3g}")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set(ylim=(0, 1.02), xlabel="false positives per patient", ylabel="lesion-wise sensitivity", title=title)
    ax.legend(loc="lower right")
    return save_figure(figure, path)
