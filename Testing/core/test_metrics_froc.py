"""FROC: candidate scores from probability maps, the curve via MONAI, operating point, score."""

import numpy as np
import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.metrics import froc_candidates, froc_curve

SPACING = (2.0, 1.0, 1.0)  # 2 mm^3 a voxel


def map_with_blobs(blobs, shape=(8, 40, 40)):
    """Probability map (background 0.05) with cubes {(z, y, x, size): peak probability}."""
    probability = np.full(shape, 0.05, np.float32)
    for (z, y, x, size), peak in blobs.items():
        probability[z:z + size, y:y + size, x:x + size] = peak * 0.8
        probability[z + size // 2, y + size // 2, x + size // 2] = peak
    return probability


def truth_with(cubes, shape=(8, 40, 40)):
    truth = np.zeros(shape, np.uint8)
    for z, y, x, size in cubes:
        truth[z:z + size, y:y + size, x:x + size] = 1
    return truth


def two_cases(min_volume_mm3=3.0, **options):
    # Case 1: lesions found with peaks 0.9 and 0.6, one missed; false candidates 0.95 and 0.3.
    first = froc_candidates(
        map_with_blobs({(1, 2, 2, 3): 0.9, (1, 10, 10, 3): 0.6, (4, 30, 30, 3): 0.95, (4, 2, 30, 3): 0.3}),
        truth_with([(1, 2, 2, 3), (1, 10, 10, 3), (5, 20, 2, 2)]),
        SPACING, min_volume_mm3=min_volume_mm3, case_id="a", **options,
    )
    # Case 2: one lesion found (0.7); false candidates 0.2 and a single voxel (2 mm^3) at 0.99.
    probability = map_with_blobs({(1, 2, 2, 3): 0.7, (5, 30, 30, 2): 0.2})
    probability[7, 20, 20] = 0.99
    second = froc_candidates(probability, truth_with([(1, 2, 2, 3)]), SPACING, min_volume_mm3=min_volume_mm3,
                             case_id="b", **options)
    return [first, second]


def test_candidate_scores_and_jungers_noise_removal_in_mm3():
    first, second = two_cases()
    assert first.n_truth == 3 and first.true_positive_scores == pytest.approx([0.6, 0.9])
    assert first.false_positive_scores == pytest.approx([0.3, 0.95])
    assert second.false_positive_scores == pytest.approx([0.2])  # the 2 mm^3 voxel is noise
    assert two_cases(min_volume_mm3=0.0)[1].false_positive_scores == pytest.approx([0.2, 0.99])


def test_curve_operating_point_and_score():
    result = froc_curve(two_cases(), operating_threshold=0.5)
    # 4 true lesions, 2 patients; true scores 0.6, 0.7, 0.9; false 0.2, 0.3, 0.95.
    assert result.thresholds[:-1] == pytest.approx([0.2, 0.3, 0.6, 0.7, 0.9, 0.95])
    assert result.thresholds[-1] == np.inf and result.to_json()["thresholds"][-1] is None
    assert result.sensitivity == pytest.approx([0.75, 0.75, 0.75, 0.5, 0.25, 0.0, 0.0])
    assert result.fps_per_patient == pytest.approx([1.5, 1.0, 0.5, 0.5, 0.5, 0.5, 0.0])
    assert (result.operating_sensitivity, result.operating_fps_per_patient) == pytest.approx((0.75, 0.5))
    assert result.sensitivity_at_eval_fps[2:] == pytest.approx([0.75, 0.75, 0.75, 0.75])  # 1, 2, 4, 8 FP
    assert result.froc_score == pytest.approx(np.mean(result.sensitivity_at_eval_fps))
    assert (result.n_patients, result.n_truth_lesions) == (2, 4)


def test_fragments_of_one_lesion_with_many_to_one_matching():
    probability = map_with_blobs({(1, 2, 2, 3): 0.8, (1, 2, 6, 3): 0.4})
    truth = truth_with([(1, 2, 2, 3)])
    truth[1:4, 2:5, 5:9] = 1  # one lesion under both fragments
    one_to_one = froc_candidates(probability, truth, SPACING)
    many_to_one = froc_candidates(probability, truth, SPACING, allow_many_to_one=True)
    assert len(one_to_one.false_positive_scores) == 1
    assert many_to_one.true_positive_scores == pytest.approx([0.8]) and many_to_one.false_positive_scores == []


def test_bad_inputs_are_named():
    truth = truth_with([(1, 2, 2, 3)])
    with pytest.raises(InputError, match="candidate_threshold"):
        froc_candidates(map_with_blobs({}), truth, SPACING, candidate_threshold=0)
    with pytest.raises(InputError, match="true lesion"):
        froc_curve([froc_candidates(map_with_blobs({}), np.zeros_like(truth), SPACING)])
