"""Voxel-wise segmentation metrics of one case (Grøvik 2020): AUC inside the brain, Dice,
precision, recall and specificity at a probability threshold; and their mean +/- SD over cases.

Every voxel has the same volume, so these ratios need no spacing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from monai.metrics import compute_confusion_matrix_metric, get_confusion_matrix
from sklearn.metrics import roc_auc_score

from ..errors import InputError
from .results import JsonResult
from .volumes import as_array


@dataclass
class VoxelMetrics(JsonResult):
    """Metrics over the voxels inside the brain mask (all voxels without a mask)."""

    threshold: float
    n_voxels: int
    auc: float
    dice: float
    precision: float
    recall: float
    specificity: float


@dataclass
class Summary(JsonResult):
    n: int
    mean: float
    sd: float
    median: float


def voxel_metrics(probability, truth, brain_mask=None, threshold: float = 0.5) -> VoxelMetrics:
    """AUC of the probabilities against the truth, and the overlap metrics of probability >= threshold.

    NaN where a metric is undefined (AUC of a case without lesion voxels, Dice when both the
    prediction and the truth are empty).
    """
    probability = as_array(probability, "probability").astype(np.float32, copy=False)
    truth = as_array(truth, "truth") > 0
    if probability.shape != truth.shape:
        raise InputError(f"probability {probability.shape} and truth {truth.shape} differ in shape")
    if brain_mask is not None:
        inside = as_array(brain_mask, "brain mask") > 0
        if inside.shape != truth.shape:
            raise InputError(f"brain mask {inside.shape} and truth {truth.shape} differ in shape")
        probability, truth = probability[inside], truth[inside]
    probability, truth = probability.ravel(), truth.ravel()
    has_both = 0 < truth.sum() < truth.size
    # MONAI's counts need numeric tensors: with bool tensors its true positives come out 0.
    predicted = torch.from_numpy((probability >= threshold).astype(np.float32)).view(1, 1, -1)
    counts = get_confusion_matrix(predicted, torch.from_numpy(truth.astype(np.float32)).view(1, 1, -1))
    with np.errstate(invalid="ignore"):
        overlap = {
            name: float(compute_confusion_matrix_metric(name, counts).item())
            for name in ("f1 score", "precision", "recall", "specificity")
        }
    return VoxelMetrics(
        threshold=float(threshold),
        n_voxels=int(truth.size),
        auc=float(roc_auc_score(truth, probability)) if has_both else float("nan"),
        dice=overlap["f1 score"],  # Dice of two binary masks is their F1 score
        precision=overlap["precision"],
        recall=overlap["recall"],
        specificity=overlap["specificity"],
    )


def summarize(values) -> Summary:
    """Mean, sample SD and median of the finite values (undefined cases left out)."""
    values = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if values.size == 0:
        return Summary(0, float("nan"), float("nan"), float("nan"))
    sd = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
    return Summary(int(values.size), float(values.mean()), sd, float(np.median(values)))


def summarize_voxel_metrics(cases) -> dict[str, Summary]:
    """Mean +/- SD over cases of every voxel metric (Grøvik reports AUC 0.98 +/- 0.04 this way)."""
    names = ("auc", "dice", "precision", "recall", "specificity")
    return {name: summarize([getattr(case, name) for case in cases]) for name in names}
