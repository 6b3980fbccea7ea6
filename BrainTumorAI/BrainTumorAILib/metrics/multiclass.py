"""Multi-class metrics (Chakrabarty 2021: seven tumour types from one post-contrast T1 volume).

The predicted class is the arg-max of the probabilities. Per class, one-vs-rest: sensitivity,
specificity, PPV, NPV (from scikit-learn's per-class confusion matrices), ROC AUC and average
precision. A class absent from the truth (an external set of gliomas only) has NaN
(JSON null) for every metric that needs its positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    multilabel_confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from ..errors import InputError
from .bootstrap import FRACTION, LEVEL, N_DRAWS, BootstrapSettings, ConfidenceInterval, bootstrap_intervals
from .classification import RocCurve
from .results import JsonResult

PER_CLASS_METRICS = ("sensitivity", "specificity", "ppv", "npv", "auc", "average_precision")


@dataclass
class PrecisionRecallCurve(JsonResult):
    precision: list[float]
    recall: list[float]
    average_precision: float


@dataclass
class ClassMetrics(JsonResult):
    name: str
    n_cases: int
    sensitivity: float
    specificity: float
    ppv: float
    npv: float
    auc: float
    average_precision: float
    ci: dict[str, ConfidenceInterval] = field(default_factory=dict)


@dataclass
class MulticlassResult(JsonResult):
    class_names: list[str]
    n_cases: int
    n_correct: int
    # rows: true class; columns: predicted class (order of class_names)
    confusion_matrix: list[list[int]]
    accuracy: float
    accuracy_ci: ConfidenceInterval | None
    per_class: list[ClassMetrics]
    roc_curves: dict[str, RocCurve]
    pr_curves: dict[str, PrecisionRecallCurve]
    bootstrap: BootstrapSettings | None = None


def _ratio(numerator, denominator) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def multiclass_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy and per-class metrics keyed "accuracy" and "<metric>/<class index>"."""
    n_classes = probabilities.shape[1]
    y_pred = probabilities.argmax(axis=1)
    (tn, fp), (fn, tp) = multilabel_confusion_matrix(y_true, y_pred, labels=range(n_classes)).transpose(1, 2, 0)
    per_class = {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "auc": np.full(n_classes, np.nan),
        "average_precision": np.full(n_classes, np.nan),
    }
    one_hot = np.eye(n_classes, dtype=int)[y_true]
    # AUC needs positives and negatives of a class; AP needs positives.
    has_both = (one_hot.sum(axis=0) > 0) & (one_hot.sum(axis=0) < len(y_true))
    if has_both.any():
        per_class["auc"][has_both] = roc_auc_score(one_hot[:, has_both], probabilities[:, has_both], average=None)
        per_class["average_precision"][has_both] = average_precision_score(
            one_hot[:, has_both], probabilities[:, has_both], average=None
        )
    values = {"accuracy": float(np.mean(y_pred == y_true))}
    for metric, per_class_values in per_class.items():
        values.update({f"{metric}/{k}": float(v) for k, v in enumerate(per_class_values)})
    return values


def _class_indices(y_true, class_names: list[str]) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.dtype.kind in "USO":
        unknown = sorted(set(y_true.tolist()) - set(class_names))
        if unknown:
            raise InputError(f"unknown class names in truth: {unknown} (known: {class_names})")
        return np.array([class_names.index(name) for name in y_true.tolist()], dtype=int)
    if not np.isin(y_true, np.arange(len(class_names))).all():
        raise InputError(f"class indices must be 0..{len(class_names) - 1}")
    return y_true.astype(int)


def evaluate_multiclass(
    y_true,
    probabilities,
    class_names,
    *,
    n_draws: int = N_DRAWS,
    fraction: float = FRACTION,
    level: float = LEVEL,
    seed: int = 0,
) -> MulticlassResult:
    """Confusion matrix, accuracy, per-class metrics and curves, with bootstrap CIs for all.

    `y_true`: class indices or class names; `probabilities`: (n_cases, n_classes), one row per
    case (one-hot rows when only hard predictions exist).
    """
    class_names = list(class_names)
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise InputError(f"probabilities must be (n_cases, {len(class_names)}), got {probabilities.shape}")
    if not np.isfinite(probabilities).all():
        raise InputError("probabilities contain NaN or infinite values")
    y_true = _class_indices(y_true, class_names)
    if len(y_true) != len(probabilities):
        raise InputError(f"{len(y_true)} truth labels but {len(probabilities)} probability rows")

    point = multiclass_metrics(y_true, probabilities)
    ci = bootstrap_intervals(
        lambda idx: multiclass_metrics(y_true[idx], probabilities[idx]), len(y_true), n_draws, fraction, level, seed
    )
    per_class, roc_curves, pr_curves = [], {}, {}
    for k, name in enumerate(class_names):
        per_class.append(
            ClassMetrics(
                name=name,
                n_cases=int(np.sum(y_true == k)),
                ci={metric: ci[f"{metric}/{k}"] for metric in PER_CLASS_METRICS if ci},
                **{metric: point[f"{metric}/{k}"] for metric in PER_CLASS_METRICS},
            )
        )
        if np.isfinite(point[f"auc/{k}"]):
            fpr, tpr, thresholds = roc_curve(y_true == k, probabilities[:, k])
            roc_curves[name] = RocCurve(fpr.tolist(), tpr.tolist(), thresholds.tolist(), point[f"auc/{k}"])
            precision, recall, _ = precision_recall_curve(y_true == k, probabilities[:, k])
            pr_curves[name] = PrecisionRecallCurve(precision.tolist(), recall.tolist(), point[f"average_precision/{k}"])
    y_pred = probabilities.argmax(axis=1)
    return MulticlassResult(
        class_names=class_names,
        n_cases=len(y_true),
        n_correct=int(np.sum(y_pred == y_true)),
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=range(len(class_names))).tolist(),
        accuracy=point["accuracy"],
        accuracy_ci=ci.get("accuracy"),
        per_class=per_class,
        roc_curves=roc_curves,
        pr_curves=pr_curves,
        bootstrap=BootstrapSettings(n_draws, fraction, True, level, seed),
    )
