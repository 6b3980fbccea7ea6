"""The lesion table in physical space (oblique, anisotropic grids), the 3 mm^3 filter, the fold
vote, the supra/infratentorial call, and lesion counts checked against panoptica."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.image import lps_to_ras
from BrainTumorAILib.tasks.metastases.lesions import (
    count_lesions, keep_lesions_peaking, label_components, lesion_table, threshold_mask,
)
from BrainTumorAILib.tasks.metastases.common import LesionMaps, binary_masks, majority_vote
from BrainTumorAILib.tasks.metastases.evaluation import evaluate_case, lesion_peak_choice, remove_small
from BrainTumorAILib.tasks.metastases.tentorium import infratentorial_mni, mni_template, register_to_mni
from BrainTumorAILib.preprocessing.transforms import apply
from conftest import rotation_matrix

SPACING = (0.6, 0.8, 2.5)  # x, y, z mm: anisotropic
DIRECTION = rotation_matrix(25, -15, 35)  # oblique


def grid(size=(90, 80, 36)) -> sitk.Image:
    image = sitk.Image(list(size), sitk.sitkUInt8)
    image.SetSpacing(SPACING)
    image.SetDirection(tuple(DIRECTION.ravel()))
    image.SetOrigin((-20.0, 35.0, -12.0))
    return image


def voxel_points(image: sitk.Image) -> np.ndarray:
    """LPS points of every voxel, in the (z, y, x) array's flat order."""
    k, j, i = np.indices(sitk.GetArrayViewFromImage(image).shape)
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1) * np.array(image.GetSpacing())
    return np.array(image.GetOrigin()) + ijk @ np.array(image.GetDirection()).reshape(3, 3).T


def ellipsoids(image, specs):
    """A label array with ellipsoids (centre LPS, semi-axes mm, rotation) numbered 1.. in order."""
    points = voxel_points(image)
    labels = np.zeros(points.shape[0], np.uint8)
    for number, (centre, axes, rotation) in enumerate(specs, start=1):
        inside = ((((points - centre) @ rotation) / axes) ** 2).sum(axis=1) <= 1.0
        labels[inside] = number
    array = labels.reshape(sitk.GetArrayViewFromImage(image).shape)
    return array, points


def as_image(array, reference) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


def test_lesion_table_of_known_ellipsoids_on_an_oblique_anisotropic_grid():
    reference = grid()
    centre_small = np.array(reference.TransformContinuousIndexToPhysicalPoint((25.0, 20.0, 10.0)))
    centre_large = np.array(reference.TransformContinuousIndexToPhysicalPoint((55.0, 48.0, 20.0)))
    small_axes, large_axes = np.array([4.0, 3.0, 3.5]), np.array([12.0, 6.0, 8.0])
    rotation = rotation_matrix(10, 40, -20)
    # The small one is numbered 1 in the input: ids must come out by decreasing volume.
    array, points = ellipsoids(reference, [(centre_small, small_axes, np.eye(3)), (centre_large, large_axes, rotation)])
    labels = label_components(as_image((array > 0).astype(np.uint8), reference))
    rows = lesion_table(labels)
    assert [row["id"] for row in rows] == [1, 2]
    large, small = rows
    voxel_mm3 = np.prod(SPACING)
    for row, number, axes, centre in ((large, 2, large_axes, centre_large), (small, 1, small_axes, centre_small)):
        inside = array.ravel() == number
        # Volume: the voxels' physical volume, close to the ellipsoid's.
        assert row["volume_mm3"] == pytest.approx(inside.sum() * voxel_mm3, rel=1e-6)
        assert row["volume_mm3"] == pytest.approx(4 / 3 * np.pi * np.prod(axes), rel=0.08)
        # Centroid: RAS of the voxels' mean, within a voxel of the true centre.
        ras = [row["centroid_r"], row["centroid_a"], row["centroid_s"]]
        assert ras == pytest.approx(lps_to_ras(points[inside].mean(axis=0)).tolist(), abs=0.01)
        assert np.linalg.norm(np.array(ras) - lps_to_ras(centre)) < 1.0
        # Longest diameter: the largest distance between voxel centres, close to the long axis.
        from scipy.spatial.distance import pdist
        assert row["longest_diameter_mm"] == pytest.approx(pdist(points[inside]).max(), abs=0.01)
        assert row["longest_diameter_mm"] == pytest.approx(2 * axes.max(), abs=max(SPACING) * 1.2)
    assert large["location"] is None and large["max_probability"] is None and large["fold_agreement"] is None


def test_components_under_3_mm3_are_removed():
    reference = grid((20, 20, 10))  # 0.6 x 0.8 x 2.5 = 1.2 mm^3 a voxel
    array = np.zeros((10, 20, 20), np.uint8)
    array[2, 2, 2:5] = 1     # 3 voxels = 3.6 mm^3: kept
    array[6, 10, 10:12] = 1  # 2 voxels = 2.4 mm^3: noise
    array[8, 15:19, 15:19] = 1  # 16 voxels: kept, the largest
    labels = sitk.GetArrayFromImage(label_components(as_image(array, reference)))
    assert labels.dtype == np.uint8 and labels.max() == 2
    assert (labels[8, 15:19, 15:19] == 1).all() and (labels[2, 2, 2:5] == 2).all()
    assert labels[6, 10, 10:12].max() == 0
    # The same filter in the statistics (array + spacing in z, y, x order).
    kept = remove_small(array, SPACING[::-1])
    np.testing.assert_array_equal(kept, labels > 0)
    # Grøvik's count of lesions >= 10 mm^3 counts only the 16-voxel one (19.2 mm^3).
    rows = lesion_table(as_image(labels, reference))
    assert count_lesions(rows) == 1 and len(rows) == 2


def test_majority_vote_and_fold_agreement():
    reference = grid((30, 10, 4))
    folds = np.zeros((5, 4, 10, 30), np.float32)
    folds[:, 1, 2:5, 2:6] = 0.9   # all five folds: kept
    folds[:3, 1, 2:5, 10:14] = 0.8  # three of five: kept
    folds[3:, 1, 2:5, 10:12] = 0.8  # the other two only cover half of it
    folds[:2, 2, 5:8, 20:26] = 0.95  # two of five (a single fold's false positive): voted out
    folds[4, 2, 5:8, 2:5] = 0.49     # under the threshold
    mask, fold_masks = binary_masks(LesionMaps(folds.mean(axis=0), list(folds)), threshold=0.5)
    np.testing.assert_array_equal(mask, majority_vote([f >= 0.5 for f in folds]))
    assert mask[1, 2:5, 2:6].all() and mask[1, 2:5, 10:14].all() and not mask[2].any()
    labels = label_components(as_image(mask.astype(np.uint8), reference), min_volume_mm3=0)
    probability = as_image(folds.mean(axis=0), reference)
    masks = [as_image(m.astype(np.uint8), reference) for m in fold_masks]
    rows = lesion_table(labels, probability, masks, locate=lambda points: ["supratentorial"] * len(points))
    assert [row["fold_agreement"] for row in rows] == [1.0, 1.0]  # the partial two still touch lesion 2
    assert rows[0]["max_probability"] == pytest.approx(0.9, abs=1e-4)
    assert rows[1]["max_probability"] == pytest.approx(0.8, abs=1e-4)
    assert {row["location"] for row in rows} == {"supratentorial"}
    # Without a vote (one map): the threshold alone decides.
    single, none = binary_masks(LesionMaps(folds[0]), threshold=0.5)
    assert none is None and single[2, 5:8, 20:26].all()


def test_posterior_fossa_rule_in_mni_space():
    points = np.array([[0, -60, -35], [20, -70, -30], [0, -25, -30], [0, -20, 50], [40, 20, 10], [0, -80, 10]])
    np.testing.assert_array_equal(infratentorial_mni(points), [True, True, True, False, False, False])


def test_registration_to_mni_recovers_a_known_pose():
    """The MNI template itself, moved by a known rotation, shift and scaling, is put back."""
    template, mask = mni_template()
    pose = np.eye(4)
    pose[:3, :3] = rotation_matrix(12, -8, 15) * 1.05  # patient point -> MNI point
    pose[:3, 3] = [6.0, -10.0, 4.0]
    # The "patient" image: the template sampled through the pose (resampling uses output -> input).
    import BrainTumorAILib.preprocessing.resampling as resampling
    patient = resampling.resample(template, template, pose)
    patient_mask = resampling.resample_mask(mask, template, pose)
    estimate = register_to_mni(patient, patient_mask)
    brain_points = voxel_points(patient_mask)[sitk.GetArrayViewFromImage(patient_mask).ravel() > 0][::50]
    error = np.linalg.norm(apply(estimate, brain_points) - apply(pose, brain_points), axis=1)
    assert error.max() < 2.5 and error.mean() < 1.0


def random_masks(seed):
    rng = np.random.default_rng(seed)
    truth = np.zeros((12, 40, 40), np.uint8)
    prediction = np.zeros_like(truth)
    for _ in range(8):
        z, y, x = rng.integers(1, 10), rng.integers(2, 34), rng.integers(2, 34)
        size = rng.integers(1, 5)
        truth[z:z + 2, y:y + size, x:x + size] = 1
        if rng.random() < 0.7:  # detected, shifted
            prediction[z:z + 2, y + 1:y + size + 1, x:x + size] = 1
    for _ in range(4):  # false positives of all sizes, some under 3 mm^3
        z, y, x = rng.integers(0, 11), rng.integers(0, 38), rng.integers(0, 38)
        prediction[z, y:y + rng.integers(1, 3), x:x + rng.integers(1, 3)] = 1
    return prediction, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lesion_counts_agree_with_panoptica(seed):
    pytest.importorskip("panoptica")
    from panoptica import (
        ConnectedComponentsInstanceApproximator, InputType, Metric, NaiveThresholdMatching, Panoptica_Evaluator,
    )

    spacing_zyx = SPACING[::-1]
    prediction, truth = random_masks(seed)
    evaluator = Panoptica_Evaluator(
        expected_input=InputType.SEMANTIC, instance_approximator=ConnectedComponentsInstanceApproximator(),
        instance_matcher=NaiveThresholdMatching(Metric.IOU, 0.0, allow_many_to_one=False, strict_threshold=True),
        instance_metrics=[Metric.DSC], global_metrics=[Metric.DSC], log_times=False, verbose=False)
    ours = evaluate_case(prediction.astype(np.float32), prediction, truth, np.ones_like(truth), spacing_zyx, 0.5,
                         f"case{seed}")["detection"]
    # panoptica sees the mask after the same 3 mm^3 filter
    filtered = remove_small(prediction, spacing_zyx).astype(np.uint8)
    theirs = evaluator.evaluate(filtered, truth, voxelspacing=spacing_zyx)["ungrouped"]
    assert (theirs.tp, theirs.fp, theirs.fn) == (ours["true_positives"], ours["false_positives"],
                                                 ours["false_negatives"])
    assert theirs.n_pred_instances == ours["n_predicted"] and theirs.n_ref_instances == ours["n_truth"]
    # and the lesion ids of the product's label image are the components panoptica counts
    reference = grid((40, 40, 12))
    assert sitk.GetArrayViewFromImage(label_components(as_image(prediction, reference))).max() == \
        theirs.n_pred_instances


def test_extent_threshold_grows_found_lesions_only():
    probability = np.zeros((1, 5, 12), np.float32)
    probability[0, 1:4, 1:5] = 0.6    # the extent of a lesion ...
    probability[0, 2, 2] = 0.97       # ... found at the threshold
    probability[0, 1:4, 7:11] = 0.6   # a region never reaching the threshold: no lesion
    probability[0, 2, 4] = 0.5        # exactly at the extent threshold counts
    found = threshold_mask(probability, 0.95, extent_threshold=0.5)
    assert found[0, 1:4, 1:5].all() and not found[0, :, 6:].any()
    np.testing.assert_array_equal(threshold_mask(probability, 0.95), probability >= 0.95)
    np.testing.assert_array_equal(threshold_mask(probability, 0.5, extent_threshold=0.6), probability >= 0.5)


def test_lesions_that_never_reach_the_peak_are_dropped_and_the_rest_renumbered():
    mask = np.zeros((6, 20, 20), np.uint8)
    mask[1:5, 2:8, 2:8] = 1      # large, faint: dropped
    mask[1:4, 12:15, 12:15] = 1  # small, confident: kept, becomes lesion 1
    probability = np.where(mask > 0, 0.6, 0.0).astype(np.float32)
    probability[2, 13, 13] = 0.97
    spacing, direction = (0.8, 0.8, 2.5), rotation_matrix(20, 0, 10).ravel().tolist()
    labels, image = (sitk.GetImageFromArray(a) for a in (mask, probability))
    for item in (labels, image):
        item.SetSpacing(spacing)
        item.SetDirection(direction)
    labels = label_components(labels, 0.0)
    assert sitk.GetArrayViewFromImage(labels)[2, 3, 3] == 1  # the larger one comes first before the filter
    kept = sitk.GetArrayFromImage(keep_lesions_peaking(labels, image, 0.95))
    assert set(np.unique(kept)) == {0, 1} and kept[2, 13, 13] == 1 and kept[2, 3, 3] == 0
    np.testing.assert_array_equal(sitk.GetArrayFromImage(keep_lesions_peaking(labels, image, 0.5)),
                                  sitk.GetArrayFromImage(labels))


def test_the_lesion_peak_is_the_lowest_keeping_the_false_lesions_allowed():
    froc = [{"n_truth": 2, "true_positive_scores": [0.99, 0.7], "false_positive_scores": [0.9, 0.6, 0.55]},
            {"n_truth": 1, "true_positive_scores": [0.97], "false_positive_scores": [0.8]},
            {"n_truth": 0, "true_positive_scores": [], "false_positive_scores": [0.95, 0.85]}]
    choice = lesion_peak_choice(froc, max_fp_per_case=1.0, floor=0.5)  # 3 false lesions allowed over 3 cases
    assert 0.8 < choice["threshold"] <= 0.85 + 1e-9
    assert choice["false_positives_per_case"] == pytest.approx(1.0)
    assert choice["sensitivity"] == pytest.approx(2 / 3)
    assert lesion_peak_choice(froc, max_fp_per_case=5.0, floor=0.5)["threshold"] == 0.5
