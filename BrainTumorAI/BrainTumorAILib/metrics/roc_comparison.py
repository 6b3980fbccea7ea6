"""Comparing two correlated ROC AUCs measured on the same cases: DeLong's test and a paired bootstrap.

scikit-learn has no DeLong test, so it is written here, in the fast midrank form of Sun & Xu
(IEEE Signal Processing Letters 2014) of DeLong, DeLong & Clarke-Pearson (Biometrics 1988).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata
from sklearn.metrics import roc_auc_score

from ..errors import InputError
from .bootstrap import LEVEL, N_DRAWS, ConfidenceInterval, bootstrap_draws, percentile_interval
from .classification import check_binary_inputs
from .results import JsonResult


@dataclass
class AucComparison(JsonResult):
    """AUC of score A minus AUC of score B with its standard error, CI and two-sided p-value."""

    method: str
    auc_a: float
    auc_b: float
    difference: float
    standard_error: float
    ci: ConfidenceInterval
    p_value: float
    n_positive: int
    n_negative: int


def delong_covariance(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of each row of `scores` (k, n_cases) and DeLong's (k, k) covariance of those AUCs."""
    y_true = np.asarray(y_true).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positives, negatives = scores[:, y_true], scores[:, ~y_true]
    m, n = positives.shape[1], negatives.shape[1]
    # Midranks turn the O(m n) pairwise placement values into O((m + n) log(m + n)) work.
    rank_all = rankdata(np.hstack([positives, negatives]), axis=1)
    rank_pos = rankdata(positives, axis=1)
    rank_neg = rankdata(negatives, axis=1)
    placement_pos = (rank_all[:, :m] - rank_pos) / n  # share of negatives each positive beats
    placement_neg = 1.0 - (rank_all[:, m:] - rank_neg) / m  # share of positives beating each negative
    aucs = placement_pos.mean(axis=1)
    covariance = np.atleast_2d(np.cov(placement_pos)) / m + np.atleast_2d(np.cov(placement_neg)) / n
    return aucs, covariance


def _check_pair(y_true, score_a, score_b):
    y_true, score_a = check_binary_inputs(y_true, score_a)
    _, score_b = check_binary_inputs(y_true, score_b)
    if min(y_true.sum(), (1 - y_true).sum()) < 2:
        raise InputError("comparing AUCs needs at least two positive and two negative cases")
    return y_true, score_a, score_b


def delong_test(y_true, score_a, score_b, level: float = LEVEL) -> AucComparison:
    """DeLong's z-test of AUC(A) = AUC(B) for two scores of the same cases; p = 1 when identical."""
    y_true, score_a, score_b = _check_pair(y_true, score_a, score_b)
    aucs, cov = delong_covariance(y_true, np.vstack([score_a, score_b]))
    difference = float(aucs[0] - aucs[1])
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    standard_error = float(np.sqrt(max(variance, 0.0)))
    if standard_error > 0:
        p_value = float(2.0 * norm.sf(abs(difference) / standard_error))
    else:  # identical (or identically ranked) scores: no difference and no variance of it
        p_value = 1.0 if difference == 0 else 0.0
    half_width = norm.ppf(0.5 + level / 2.0) * standard_error
    ci = ConfidenceInterval(difference - half_width, difference + half_width, level, 0)
    return AucComparison(
        "DeLong", float(aucs[0]), float(aucs[1]), difference, standard_error, ci, p_value,
        int(y_true.sum()), int((1 - y_true).sum()),
    )


def paired_bootstrap_auc_test(
    y_true, score_a, score_b, n_draws: int = N_DRAWS, fraction: float = 1.0, level: float = LEVEL, seed: int = 0
) -> AucComparison:
    """Resample cases (both scores together), percentile CI of the AUC difference and p-value.

    The p-value is twice the share of draws on the far side of zero (capped at 1). The default
    draws n of n cases, the classic bootstrap; draws missing a class are skipped.
    """
    y_true, score_a, score_b = _check_pair(y_true, score_a, score_b)

    def auc_difference(idx):
        truth = y_true[idx]
        if truth.min() == truth.max():
            return {"difference": float("nan")}
        return {"difference": roc_auc_score(truth, score_a[idx]) - roc_auc_score(truth, score_b[idx])}

    differences = bootstrap_draws(auc_difference, len(y_true), n_draws, fraction, seed)["difference"]
    differences = differences[np.isfinite(differences)]
    p_value = min(1.0, 2.0 * min(np.mean(differences <= 0), np.mean(differences >= 0)))
    auc_a, auc_b = roc_auc_score(y_true, score_a), roc_auc_score(y_true, score_b)
    return AucComparison(
        "paired bootstrap", float(auc_a), float(auc_b), float(auc_a - auc_b), float(np.std(differences, ddof=1)),
        percentile_interval(differences, level), float(p_value), int(y_true.sum()), int((1 - y_true).sum()),
    )
