"""Every plot function writes a non-empty PNG from a result object."""

import numpy as np
import pytest

from BrainTumorAILib.metrics import evaluate_binary, evaluate_multiclass, froc_candidates, froc_curve
from BrainTumorAILib.metrics.plots import (
    plot_confusion_matrix,
    plot_froc,
    plot_loss_curves,
    plot_one_vs_rest_roc,
    plot_precision_recall,
    plot_roc,
)

CLASSES = ["hgg", "lgg", "metastasis", "meningioma", "pituitary", "schwannoma", "healthy"]


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    y_true = np.tile([0, 1], 30)
    return evaluate_binary(y_true, rng.normal(y_true, 0.8), 0.55, positive_label="GBM",
                           negative_label="metastasis", n_draws=0)


@pytest.fixture(scope="module")
def multiclass():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 7, 120)
    return evaluate_multiclass(y_true, rng.dirichlet(np.ones(7), 120) + 0.25 * np.eye(7)[y_true], CLASSES, n_draws=0)


@pytest.fixture(scope="module")
def froc():
    rng = np.random.default_rng(2)
    cases = []
    for peaks in ((0.9, 0.5, 0.6), (0.8, 0.45, 0.7)):  # two lesions, one false positive
        truth = np.zeros((6, 30, 30), np.uint8)
        truth[2:4, 5:9, 5:9] = 1
        truth[2:4, 20:24, 20:24] = 1
        probability = rng.uniform(0, 0.3, truth.shape)
        probability[2:4, 5:9, 5:9] = peaks[0]
        probability[2:4, 20:24, 20:24] = peaks[1]
        probability[2:4, 5:9, 20:24] = peaks[2]
        cases.append(froc_candidates(probability, truth, (3.0, 0.8, 0.8), candidate_threshold=0.4))
    return froc_curve(cases)


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000


def test_roc(binary, tmp_path):
    assert_png(plot_roc(binary, tmp_path / "roc.png"))


def test_loss_curves(tmp_path):
    history = {"train": [0.9, 0.6, 0.45, 0.4], "validation": [0.95, 0.7, 0.6, 0.62]}
    assert_png(plot_loss_curves(history, tmp_path / "sub" / "loss.png"))


def test_confusion_matrices(binary, multiclass, tmp_path):
    assert_png(plot_confusion_matrix(binary, tmp_path / "binary.png"))
    assert_png(plot_confusion_matrix(multiclass, tmp_path / "multiclass.png"))


def test_one_vs_rest_curves(multiclass, tmp_path):
    assert_png(plot_one_vs_rest_roc(multiclass, tmp_path / "ovr_roc.png"))
    assert_png(plot_precision_recall(multiclass, tmp_path / "pr.png"))


def test_froc(froc, tmp_path):
    assert_png(plot_froc(froc, tmp_path / "froc.png"))
