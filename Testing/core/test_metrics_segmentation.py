"""Voxel metrics of one case (AUC inside the brain mask, Dice, precision, recall) and summaries."""

import numpy as np
import pytest
import SimpleITK as sitk
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.metrics import summarize, summarize_voxel_metrics, voxel_metrics


def random_case(seed, shape=(12, 30, 26)):
    rng = np.random.default_rng(seed)
    truth = np.zeros(shape, dtype=np.uint8)
    truth[4:8, 10:18, 8:15] = 1
    probability = np.clip(0.6 * truth + rng.normal(0.2, 0.2, shape), 0, 1).astype(np.float32)
    brain = np.zeros(shape, dtype=bool)
    brain[1:11, 3:27, 3:23] = True
    return probability, truth, brain


def test_agrees_with_scikit_learn_inside_the_brain_mask():
    probability, truth, brain = random_case(0)
    metrics = voxel_metrics(probability, truth, brain_mask=brain, threshold=0.5)
    p, t = probability[brain], truth[brain]
    assert metrics.n_voxels == brain.sum()
    assert metrics.auc == pytest.approx(roc_auc_score(t, p))
    assert metrics.dice == pytest.approx(f1_score(t, p >= 0.5), rel=1e-6)
    assert metrics.precision == pytest.approx(precision_score(t, p >= 0.5), rel=1e-6)
    assert metrics.recall == pytest.approx(recall_score(t, p >= 0.5), rel=1e-6)
    assert metrics.specificity == pytest.approx(recall_score(t, p >= 0.5, pos_label=0), rel=1e-6)
    # Without a mask every voxel counts.
    assert voxel_metrics(probability, truth, threshold=0.5).n_voxels == truth.size


def test_dice_of_known_overlap():
    truth = np.zeros((4, 10, 10), np.uint8)
    truth[1:3, 2:6, 2:6] = 1  # 32 voxels
    probability = np.zeros(truth.shape, np.float32)
    probability[1:3, 4:8, 2:6] = 0.9  # 32 voxels, 16 shared
    metrics = voxel_metrics(probability, truth, threshold=0.5)
    assert metrics.dice == pytest.approx(2 * 16 / 64)
    assert metrics.precision == pytest.approx(0.5) and metrics.recall == pytest.approx(0.5)


def test_images_and_undefined_values():
    probability, truth, _ = random_case(1)
    image = sitk.GetImageFromArray(probability)
    image.SetSpacing((0.9, 1.1, 3.0))
    empty = voxel_metrics(image, np.zeros_like(truth))
    assert np.isnan(empty.auc) and empty.to_json()["auc"] is None
    with pytest.raises(InputError, match="differ in shape"):
        voxel_metrics(probability, truth[:-1])


def test_mean_and_sd_over_cases_skip_undefined_values():
    cases = [voxel_metrics(*random_case(seed)[:2]) for seed in range(4)]
    summary = summarize_voxel_metrics(cases)
    dice = [case.dice for case in cases]
    assert summary["dice"].mean == pytest.approx(np.mean(dice))
    assert summary["dice"].sd == pytest.approx(np.std(dice, ddof=1))
    assert summary["dice"].n == 4
    assert summarize([0.5, float("nan"), None, 0.7]).mean == pytest.approx(0.6)
