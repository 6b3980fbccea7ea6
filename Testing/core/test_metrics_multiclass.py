"""Seven-class tumour-type metrics: Chakrabarty 2021's 337/361, per-class values, curves, CIs."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.metrics import evaluate_multiclass
from conftest import CHAKRABARTY_CONFUSION

CLASSES = ["hgg", "lgg", "metastasis", "meningioma", "pituitary", "schwannoma", "healthy"]

CONFUSION = CHAKRABARTY_CONFUSION


def cases_from_confusion(confusion):
    """Truth indices and one-hot 'probabilities' that reproduce a confusion matrix."""
    pairs = [(t, p) for t in range(len(confusion)) for p in range(len(confusion)) for _ in range(confusion[t, p])]
    y_true, y_pred = map(np.array, zip(*pairs))
    return y_true, np.eye(len(confusion))[y_pred]


def test_chakrabarty_internal_accuracy_from_a_confusion_matrix():
    assert CONFUSION.sum() == 361 and np.trace(CONFUSION) == 337
    y_true, probabilities = cases_from_confusion(CONFUSION)
    result = evaluate_multiclass(y_true, probabilities, CLASSES, n_draws=100)
    assert result.confusion_matrix == CONFUSION.tolist()
    assert result.n_correct == 337 and result.n_cases == 361
    assert result.accuracy == pytest.approx(0.9335, abs=5e-5)
    assert result.accuracy_ci.low < result.accuracy < result.accuracy_ci.high
    meningioma = result.per_class[3]
    assert meningioma.name == "meningioma" and meningioma.n_cases == 60
    tp, fn, fp = 57, 3, 6  # row: 2 + 1 missed; column: 2 + 2 + 2 from other classes
    tn = 361 - tp - fn - fp
    assert meningioma.sensitivity == pytest.approx(tp / (tp + fn))
    assert meningioma.ppv == pytest.approx(tp / (tp + fp))
    assert meningioma.npv == pytest.approx(tn / (tn + fn))
    assert meningioma.specificity == pytest.approx(tn / (tn + fp))


def test_the_test_matrix_lies_inside_the_papers_per_class_ranges():
    y_true, probabilities = cases_from_confusion(CONFUSION)
    result = evaluate_multiclass(y_true, probabilities, CLASSES, n_draws=10)
    for per_class in result.per_class:  # Chakrabarty 2021: sensitivity 91-100%, PPV 85-100%, NPV 98-100%
        assert per_class.sensitivity >= 0.91 and per_class.ppv >= 0.85 and per_class.npv >= 0.98, per_class.name


def test_per_class_values_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 7, 250)
    logits = rng.normal(0, 1, (250, 7)) + 2.0 * np.eye(7)[y_true]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = evaluate_multiclass(np.array(CLASSES)[y_true], probabilities, CLASSES, n_draws=0)
    y_pred = probabilities.argmax(axis=1)
    np.testing.assert_allclose([c.sensitivity for c in result.per_class], recall_score(y_true, y_pred, average=None))
    np.testing.assert_allclose([c.ppv for c in result.per_class], precision_score(y_true, y_pred, average=None))
    for k, metrics in enumerate(result.per_class):
        assert metrics.auc == pytest.approx(roc_auc_score(y_true == k, probabilities[:, k]))
        assert metrics.average_precision == pytest.approx(average_precision_score(y_true == k, probabilities[:, k]))
        assert result.roc_curves[CLASSES[k]].auc == metrics.auc
        assert result.pr_curves[CLASSES[k]].average_precision == metrics.average_precision


def test_bootstrap_cis_for_every_per_class_metric():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 7, 150)
    probabilities = rng.dirichlet(np.ones(7), 150) + 0.8 * np.eye(7)[y_true]
    result = evaluate_multiclass(y_true, probabilities, CLASSES, n_draws=100, seed=3)
    for metrics in result.per_class:
        assert set(metrics.ci) == {"sensitivity", "specificity", "ppv", "npv", "auc", "average_precision"}
        for name, ci in metrics.ci.items():
            assert ci.low <= getattr(metrics, name) <= ci.high, (metrics.name, name)
    json.dumps(result.to_json(), allow_nan=False)


def test_external_set_of_gliomas_only_leaves_the_absent_classes_undefined():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, 80)  # hgg and lgg only, as Chakrabarty's external test
    probabilities = rng.dirichlet(np.ones(7), 80) + np.eye(7)[y_true]
    result = evaluate_multiclass(y_true, probabilities, CLASSES, n_draws=50)
    healthy = result.per_class[6].to_json()
    assert healthy["sensitivity"] is None and healthy["auc"] is None and healthy["n_cases"] == 0
    assert set(result.roc_curves) == {"hgg", "lgg"}
    assert result.per_class[0].auc > 0.5


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="unknown class names"):
        evaluate_multiclass(["hgg", "glioma"], np.eye(7)[:2], CLASSES, n_draws=0)
    with pytest.raises(InputError, match=r"\(n_cases, 7\)"):
        evaluate_multiclass([0, 1], np.eye(6)[:2], CLASSES, n_draws=0)
