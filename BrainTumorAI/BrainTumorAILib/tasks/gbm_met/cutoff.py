"""The predictive-index cut-off of a gbm-met model set, and where it came from.

Shin 2021 read its cut-off, 0.55, off the ROC curve of its own cohort. A model set trained with
a paper preset keeps that cut-off unless the training config asks for a fitted one
(`"cutoff": "fitted"`). A fitted cut-off is chosen inside the training folds only (nested): the
Youden point of the fold model's predictive indices on its validation patients, which are part
of the fold's training data and never of its held-out test patients. So each fold's held-out
figures are read at a cut-off their patients had no part in; the deployed set's cut-off is the
Youden point over every fold's validation patients.
"""

from __future__ import annotations

import numpy as np

from ...metrics.classification import roc_with_youden

PAPER_CUTOFF = 0.55
PAPER_SOURCE = "paper (Shin 2021)"
NESTED_SOURCE = "model set, nested CV"
CUTOFF_MODES = ("paper", "fitted")


def youden_cutoff(truth, scores, fallback: float = PAPER_CUTOFF) -> float:
    """Youden point of `scores` against `truth` (1 = GBM); `fallback` when one class is missing
    (a fold whose validation patients are all of one class keeps the paper's cut-off)."""
    truth, scores = np.asarray(truth, dtype=int), np.asarray(scores, dtype=float)
    if truth.size == 0 or truth.min() == truth.max():
        return float(fallback)
    _, youden = roc_with_youden(truth, scores)
    return float(min(youden.threshold, 1.0)) if np.isfinite(youden.threshold) else float(fallback)


def nested_cutoffs(folds: list[dict], truth: dict[str, int], mode: str) -> tuple[list[float], float, str]:
    """Per-fold cut-offs, the deployed cut-off and its source.

    `folds`: per fold {"validation_predictions": {case_id: predictive index}} (the fold model on
    its own validation patients); `truth`: case id -> 1 for GBM. Held-out predictions are not
    an argument, so they cannot leak into the choice.
    """
    if mode == "paper":
        return [PAPER_CUTOFF] * len(folds), PAPER_CUTOFF, PAPER_SOURCE
    per_fold = []
    pooled_ids, pooled_scores = [], []
    for fold in folds:
        ids = list(fold["validation_predictions"])
        scores = [fold["validation_predictions"][i] for i in ids]
        per_fold.append(youden_cutoff([truth[i] for i in ids], scores))
        pooled_ids += ids
        pooled_scores += scores
    pooled_truth = [truth[i] for i in pooled_ids]
    if len(set(pooled_truth)) < 2:  # nothing to fit on: say so rather than pass the paper's value off as fitted
        return per_fold, PAPER_CUTOFF, f"{PAPER_SOURCE}; no validation patients of both classes to fit one"
    return per_fold, youden_cutoff(pooled_truth, pooled_scores), NESTED_SOURCE


def cutoff_source(model_set) -> str:
    """The source its model card records for the predictive-index cut-off."""
    card = model_set.card() if model_set.card_path.is_file() else {}
    record = card.get("cutoffs", {}).get("predictive_index", {})
    return record.get("source") or f"model set ({record.get('how_chosen', 'how chosen not recorded')})"
