"""Binary classification metrics (Shin 2021: GBM is the positive class, metastasis the negative).

A case is called positive when its score is >= the threshold (scikit-learn's ROC convention),
so the predictive index with Shin's cut-off 0.55 is `evaluate_binary(truth, index, 0.55)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score, roc_curve

from ..errors import InputError
from .bootstrap import FRACTION, LEVEL, N_DRAWS, BootstrapSettings, ConfidenceInterval, bootstrap_intervals
from .results import JsonResult


@dataclass
class RocCurve(JsonResult):
    """ROC points; thresholds[0] is +inf (JSON null): the point where nothing is called positive."""

    fpr: list[float]
    tpr: list[float]
    thresholds: list[float]
    auc: float


@dataclass
class YoudenPoint(JsonResult):
    """The ROC point that maximises Youden's J = sensitivity + specificity - 1."""

    threshold: float
    sensitivity: float
    specificity: float
    youden_index: float


@dataclass
class BinaryClassificationResult(JsonResult):
    positive_label: str
    negative_label: str
    n_positive: int
    n_negative: int
    threshold: float
    # rows: true (negative, positive); columns: predicted (negative, positive)
    confusion_matrix: list[list[int]]
    accuracy: float
    precision: float
    recall: float
    specificity: float
    negative_predictive_value: float
    f1: float
    auc: float
    roc: RocCurve
    youden: YoudenPoint
    ci: dict[str, ConfidenceInterval] = field(default_factory=dict)
    bootstrap: BootstrapSettings | None = None


def check_binary_inputs(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels as int 0/1, scores as float); InputError unless both classes are present."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.ndim != 1 or y_true.shape != y_score.shape:
        raise InputError(f"truth and scores must be 1D and of equal length, got {y_true.shape} and {y_score.shape}")
    if not np.isin(y_true, (0, 1)).all():
        raise InputError("binary truth must be 0 (negative) or 1 (positive)")
    if not np.isfinite(y_score).all():
        raise InputError("scores contain NaN or infinite values")
    y_true = y_true.astype(int)
    if y_true.min() == y_true.max():
        raise InputError("binary evaluation needs positive and negative cases (ROC AUC is undefined otherwise)")
    return y_true, y_score


def threshold_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall, specificity, NPV, F1 and AUC; NaN where undefined (e.g. 0/0)."""
    y_pred = (y_score >= threshold).astype(int)
    # Class 0's recall is the specificity and its precision the NPV: one call gives all four.
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=[0, 1], average=None, zero_division=np.nan
    )
    one_class = y_true.min() == y_true.max()
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision[1]),
        "recall": float(recall[1]),
        "specificity": float(recall[0]),
        "negative_predictive_value": float(precision[0]),
        "f1": float(f1[1]),
        "auc": float("nan") if one_class else float(roc_auc_score(y_true, y_score)),
    }


def youden_point(fpr, tpr, thresholds) -> YoudenPoint:
    """Maximum of J over the ROC points; on ties the highest threshold (first point) wins."""
    youden = np.asarray(tpr) - np.asarray(fpr)
    best = int(np.argmax(youden))
    return YoudenPoint(float(thresholds[best]), float(tpr[best]), float(1.0 - fpr[best]), float(youden[best]))


def roc_with_youden(y_true, y_score) -> tuple[RocCurve, YoudenPoint]:
    y_true, y_score = check_binary_inputs(y_true, y_score)
    fpr, tpr, thresholds = roc_curve(y_true, y_score)
    roc = RocCurve(fpr.tolist(), tpr.tolist(), thresholds.tolist(), float(roc_auc_score(y_true, y_score)))
    return roc, youden_point(fpr, tpr, thresholds)


def evaluate_binary(
    y_true,
    y_score,
    threshold: float = 0.5,
    *,
    positive_label: str = "positive",
    negative_label: str = "negative",
    n_draws: int = N_DRAWS,
    fraction: float = FRACTION,
    level: float = LEVEL,
    seed: int = 0,
) -> BinaryClassificationResult:
    """All binary metrics at `threshold`, the ROC with its Youden point, and bootstrap CIs.

    `y_true`: 1 for the positive class (GBM), 0 for the negative; `y_score`: a score that grows
    with the positive class (predictive index, probability). Hard 0/1 predictions work too
    (threshold 0.5); their AUC is then the mean of sensitivity and specificity.
    """
    y_true, y_score = check_binary_inputs(y_true, y_score)
    point = threshold_metrics(y_true, y_score, threshold)
    roc, youden = roc_with_youden(y_true, y_score)
    y_pred = (y_score >= threshold).astype(int)
    ci = bootstrap_intervals(
        lambda idx: threshold_metrics(y_true[idx], y_score[idx], threshold), len(y_true), n_draws, fraction, level, seed
    )
    return BinaryClassificationResult(
        positive_label=positive_label,
        negative_label=negative_label,
        n_positive=int(y_true.sum()),
        n_negative=int((1 - y_true).sum()),
        threshold=float(threshold),
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=[0, 1]).tolist(),
        roc=roc,
        youden=youden,
        ci=ci,
        bootstrap=BootstrapSettings(n_draws, fraction, True, level, seed),
        **point,
    )
