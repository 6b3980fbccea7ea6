"""Lesion-wise detection: counts, volumes in mm^3 from anisotropic spacing, lesion Dice,
Jünger 2021's summary figures, subgroups, and a cross-check of the matching against panoptica."""

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.stats import pearsonr, ranksums

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.metrics import (
    compare_by_lesion_count,
    detect_lesions,
    label_lesions,
    summarize_detection,
    volume_correlation,
)
from conftest import rotation_matrix

SPACING = (3.0, 0.5, 0.5)  # mm per voxel along the array axes (z, y, x): 0.75 mm^3 a voxel


def designed_case():
    """Three true lesions and four predicted components with known overlaps (array index z, y, x)."""
    truth = np.zeros((10, 40, 40), np.uint8)
    prediction = np.zeros_like(truth)
    truth[1:3, 2:8, 2:8] = 1  # A: 72 voxels
    prediction[1:3, 4:8, 2:8] = 1  # covers 48 voxels of A, nothing else
    truth[1:3, 20:24, 20:24] = 1  # B: 32 voxels, missed
    truth[5:7, 2:10, 20:30] = 1  # C: 160 voxels, predicted in two fragments
    prediction[5:7, 2:10, 20:24] = 1  # fragment 1: 64 voxels
    prediction[5:7, 2:10, 26:30] = 1  # fragment 2: 64 voxels
    prediction[8:10, 30:34, 30:32] = 1  # false positive: 16 voxels = 12 mm^3 (>= 10)
    prediction[8:10, 30:33, 36:38] = 1  # false positive: 12 voxels = 9 mm^3 (< 10 here, 12 at 1 mm)
    return prediction, truth


def test_counts_volumes_and_dice_of_a_designed_case():
    prediction, truth = designed_case()
    case = detect_lesions(prediction, truth, SPACING)
    assert (case.n_truth, case.n_predicted) == (3, 5)
    assert (case.true_positives, case.false_negatives) == (2, 1)
    # One-to-one: C's second fragment is a false positive (64 voxels = 48 mm^3, large).
    assert case.false_positives == 3 and case.false_positives_large == 2
    assert sorted(case.false_positive_volumes_mm3) == pytest.approx([9.0, 12.0, 48.0])
    a, b, c = case.lesions
    assert a.volume_mm3 == pytest.approx(72 * 0.75) and a.predicted_volume_mm3 == pytest.approx(48 * 0.75)
    assert a.dice == pytest.approx(2 * 48 / (72 + 48))
    assert not b.detected and np.isnan(b.dice)
    assert c.dice == pytest.approx(2 * 64 / (160 + 64))


def test_fragments_count_once_with_many_to_one_matching():
    prediction, truth = designed_case()
    case = detect_lesions(prediction, truth, SPACING, allow_many_to_one=True)
    assert case.true_positives == 2 and case.false_positives == 2 and case.false_positives_large == 1
    c = case.lesions[2]
    assert len(c.predicted_ids) == 2 and c.dice == pytest.approx(2 * 128 / (160 + 128))


def test_spacing_decides_the_small_false_positives():
    prediction, truth = designed_case()
    assert detect_lesions(prediction, truth, (1.0, 1.0, 1.0)).false_positives_large == 3
    assert detect_lesions(prediction, truth, SPACING, min_fp_volume_mm3=0).false_positives_large == 3


def test_oblique_images_give_the_same_result_as_arrays():
    prediction, truth = designed_case()
    images = []
    for array in (prediction, truth):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(SPACING[::-1])  # SimpleITK spacing is (x, y, z)
        image.SetDirection(rotation_matrix(10, -7, 20).ravel().tolist())
        image.SetOrigin((4.0, -12.0, 30.0))
        images.append(image)
    assert detect_lesions(*images).to_json() == detect_lesions(prediction, truth, SPACING).to_json()
    shifted = sitk.Image(images[1])
    shifted.SetOrigin((5.0, -12.0, 30.0))
    with pytest.raises(InputError, match="do not share"):
        detect_lesions(images[0], shifted)
    with pytest.raises(InputError, match="spacing"):
        detect_lesions(prediction, truth)


def place_cubes(volume, n, start, size=3):
    """n cubes along x in row `start` (z, y) of a 16 x 16 x 64 volume."""
    z, y = start
    for k in range(n):
        volume[z:z + size, y:y + size, 2 + 6 * k:2 + 6 * k + size] = 1


def test_junger_summary_figures_from_counts():
    # 14 test patients, 32 metastases, 28 found, 10 false positives (0.71 a scan): sensitivity
    # 0.875 (Jünger 2021: 88%), precision 28/38 = 0.737 (74%), F1 0.80.
    lesions = [1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    missed = [0] * 8 + [1, 1, 1, 1, 0, 0]
    false_positives = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 2]
    cases = []
    for n, miss, fp in zip(lesions, missed, false_positives):
        truth = np.zeros((16, 16, 64), np.uint8)
        prediction = np.zeros_like(truth)
        place_cubes(truth, n, (2, 2))
        place_cubes(prediction, n - miss, (2, 2))
        place_cubes(prediction, fp, (10, 10))
        cases.append(detect_lesions(prediction, truth, (1.0, 1.0, 1.0)))
    result = summarize_detection(cases)
    assert (result.n_truth_lesions, result.n_detected, result.n_false_positives) == (32, 28, 10)
    assert result.sensitivity == pytest.approx(0.875)
    assert result.precision == pytest.approx(28 / 38)
    assert result.f1 == pytest.approx(0.80, abs=0.005)
    assert result.false_positives_per_patient == pytest.approx(10 / 14)
    assert result.lesion_dice.median == pytest.approx(1.0)
    assert [g.n_patients for g in result.subgroups["sensitivity"].groups] == [14, 0, 0]
    assert result.to_json()["cases"][0]["n_truth"] == 1


def test_volume_correlation_is_scipy_pearson():
    rng = np.random.default_rng(0)
    truth = rng.uniform(5, 2000, 30)
    predicted = truth * rng.normal(1, 0.15, 30)
    result = volume_correlation(truth, predicted)
    expected = pearsonr(truth, predicted)
    assert result.r == pytest.approx(expected.statistic) and result.p_value == pytest.approx(expected.pvalue)
    assert result.ci_low < result.r < result.ci_high and result.n == 30
    assert np.isnan(volume_correlation([1.0, 2.0], [1.0, 2.0]).r)


def test_lesion_count_subgroups_use_the_rank_sum_test():
    counts = np.array([1, 2, 3, 3, 5, 7, 9, 10, 12, 15, 30, 0])
    sensitivity = np.array([1.0, 1.0, 0.9, 1.0, 0.8, 0.85, 0.7, 0.75, 0.6, 0.5, 0.55, np.nan])
    comparison = compare_by_lesion_count(sensitivity, counts)
    assert [(g.name, g.n_patients) for g in comparison.groups] == [("1-3", 4), ("4-10", 4), (">10", 3)]
    first = comparison.tests[0]
    assert (first.group_a, first.group_b) == ("1-3", "4-10")
    assert first.p_value == pytest.approx(ranksums(sensitivity[:4], sensitivity[4:8]).pvalue)
    assert comparison.groups[0].median > comparison.groups[1].median > comparison.groups[2].median


def ball(shape, centre, radii):
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def random_masks(seed, shape=(16, 64, 64), n_lesions=14):
    """Ellipsoid lesions; the prediction misses some, splits some in two, moves and resizes the
    rest and adds false positives. Close lesions may merge."""
    rng = np.random.default_rng(seed)
    truth, prediction = np.zeros(shape, bool), np.zeros(shape, bool)
    for _ in range(n_lesions):
        centre = rng.uniform([2, 6, 6], np.subtract(shape, [2, 6, 6]))
        radii = np.array([rng.uniform(0.8, 2.0), *rng.uniform(1.5, 6.0, 2)])
        truth |= ball(shape, centre, radii)
        fate = rng.uniform()
        if fate < 0.2:
            continue
        guess = ball(shape, centre + rng.normal(0, [0.3, 1.0, 1.0]), radii * rng.uniform(0.7, 1.3))
        if fate < 0.4:
            cut = int(round(centre[2]))
            guess[:, :, cut - 1:cut + 1] = False
        prediction |= guess
    for _ in range(5):
        prediction |= ball(shape, rng.uniform([2, 4, 4], np.subtract(shape, [2, 4, 4])), rng.uniform(0.8, 3.0, 3))
    return prediction.astype(np.uint8), truth.astype(np.uint8)


@pytest.mark.parametrize("many_to_one", [False, True])
def test_matching_agrees_with_panoptica(many_to_one):
    panoptica = pytest.importorskip("panoptica")
    from panoptica import (
        ConnectedComponentsInstanceApproximator, InputType, Metric, NaiveThresholdMatching, Panoptica_Evaluator,
    )

    matcher = NaiveThresholdMatching(Metric.IOU, 0.0, allow_many_to_one=many_to_one, strict_threshold=True)

    def evaluator(kind):
        return Panoptica_Evaluator(
            expected_input=kind, instance_approximator=ConnectedComponentsInstanceApproximator(),
            instance_matcher=matcher, instance_metrics=[Metric.DSC],
            global_metrics=[Metric.DSC], log_times=False, verbose=False,
        )

    on_instances, on_masks = evaluator(InputType.UNMATCHED_INSTANCE), evaluator(InputType.SEMANTIC)
    missed = 0
    for seed in range(3):
        prediction, truth = random_masks(seed)
        ours = detect_lesions(prediction, truth, SPACING, allow_many_to_one=many_to_one)
        assert ours.n_truth > 5 and ours.false_positives > 0
        missed += ours.false_negatives
        # Our components -> the same matching; binary masks -> panoptica's own components (cc3d) too.
        for name, theirs in (
            ("instances", on_instances.evaluate(label_lesions(prediction), label_lesions(truth), voxelspacing=SPACING)),
            ("masks", on_masks.evaluate(prediction, truth, voxelspacing=SPACING)),
        ):
            theirs = theirs["ungrouped"]
            counts = (ours.true_positives, ours.false_positives, ours.false_negatives)
            assert (theirs.tp, theirs.fp, theirs.fn) == counts, (seed, name)
            their_dice = theirs.get_list_metric(Metric.DSC, panoptica.MetricMode.ALL)
            ours_dice = [lesion.dice for lesion in ours.lesions if lesion.detected]
            np.testing.assert_allclose(sorted(their_dice), sorted(ours_dice))
    assert missed > 0
