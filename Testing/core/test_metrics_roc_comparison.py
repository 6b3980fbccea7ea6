"""DeLong's test (hand-written: scikit-learn has none) and the paired bootstrap for two AUCs."""

import numpy as np
import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.metrics import delong_covariance, delong_test, paired_bootstrap_auc_test


def correlated_scores(n_per_class, seed):
    """Two readers scoring the same cases: shared case difficulty, reader A better separated."""
    rng = np.random.default_rng(seed)
    y_true = np.r_[np.ones(n_per_class), np.zeros(n_per_class)].astype(int)
    difficulty = rng.normal(0, 1, 2 * n_per_class)
    score_a = 1.2 * y_true + difficulty + rng.normal(0, 0.6, 2 * n_per_class)
    score_b = 0.8 * y_true + difficulty + rng.normal(0, 0.6, 2 * n_per_class)
    return y_true, score_a, score_b


def brute_force_delong(y_true, scores):
    """DeLong 1988 by its definition: pairwise kernel psi = 1 (X > Y), 1/2 (tie), 0."""
    positives, negatives = scores[:, y_true == 1], scores[:, y_true == 0]
    psi = (positives[:, :, None] > negatives[:, None, :]) + 0.5 * (positives[:, :, None] == negatives[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    return psi.mean(axis=(1, 2)), np.cov(v10) / positives.shape[1] + np.cov(v01) / negatives.shape[1]


def test_fast_delong_equals_the_pairwise_definition_with_ties():
    y_true, score_a, score_b = correlated_scores(40, seed=1)
    scores = np.vstack([np.round(score_a), np.round(score_b, 1)])  # coarse ratings: many ties
    aucs, covariance = delong_covariance(y_true, scores)
    expected_aucs, expected_covariance = brute_force_delong(y_true, scores)
    np.testing.assert_allclose(aucs, expected_aucs, rtol=1e-12)
    np.testing.assert_allclose(covariance, expected_covariance, rtol=1e-10)


def test_hanley_mcneil_ct_ratings():
    # Hanley & McNeil (Radiology 1982), 5-point CT ratings of 58 normal and 51 abnormal cases:
    # published AUC 0.893 and SE 0.032 (their closed-form approximation). DeLong's nonparametric
    # SE of the same AUC is expected close to it.
    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    y_true = np.r_[np.ones(51), np.zeros(58)]
    aucs, covariance = delong_covariance(y_true, np.r_[abnormal, normal])
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)
    assert np.sqrt(covariance[0, 0]) == pytest.approx(0.032, abs=0.002)


def test_delong_variance_agrees_with_the_bootstrap():
    y_true, score_a, score_b = correlated_scores(150, seed=4)
    delong = delong_test(y_true, score_a, score_b)
    bootstrap = paired_bootstrap_auc_test(y_true, score_a, score_b, n_draws=1000, seed=2)
    assert delong.difference == pytest.approx(bootstrap.difference)
    assert delong.standard_error == pytest.approx(bootstrap.standard_error, rel=0.15)
    assert delong.difference > 0 and delong.p_value < 0.05 and bootstrap.p_value < 0.05
    assert delong.ci.low < delong.difference < delong.ci.high
    assert bootstrap.ci.low < bootstrap.difference < bootstrap.ci.high


def test_identical_scores_give_p_one():
    y_true, score_a, _ = correlated_scores(30, seed=5)
    bootstrap = paired_bootstrap_auc_test(y_true, score_a, score_a, n_draws=100)
    for comparison in (delong_test(y_true, score_a, score_a), bootstrap):
        assert comparison.difference == 0.0
        assert comparison.p_value == pytest.approx(1.0)


def test_unrelated_scores_are_not_significant():
    rng = np.random.default_rng(6)
    y_true = np.tile([0, 1], 60)
    result = delong_test(y_true, rng.normal(size=120), rng.normal(size=120))
    assert result.p_value > 0.05
    assert result.to_json()["method"] == "DeLong"


def test_needs_two_cases_of_each_class():
    with pytest.raises(InputError, match="two positive and two negative"):
        delong_test([1, 0, 0], [0.9, 0.1, 0.2], [0.8, 0.3, 0.1])
