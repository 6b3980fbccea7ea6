"""Single preprocessing steps on small oblique, anisotropic images with known answers:
N4 against a known bias field, WhiteStripe and z-score statistics, per-slice equalisation."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import copy_geometry
from BrainTumorAILib.preprocessing import equalise_histogram_per_slice, n4_correct, normalise, whitestripe, zscore
from BrainTumorAILib.preprocessing.grid import axial_axis, physical_points
from conftest import rotation_matrix


def oblique_grid(size=(64, 72, 40), spacing=(2.5, 2.5, 4.0), direction=None) -> sitk.Image:
    grid = sitk.Image(size, sitk.sitkFloat32)
    grid.SetSpacing(spacing)
    grid.SetOrigin((-80.0, -90.0, -70.0))
    grid.SetDirection(tuple((rotation_matrix(10, -6, 15) if direction is None else direction).ravel()))
    return grid


def centred_points(grid: sitk.Image) -> np.ndarray:
    """LPS points of every voxel (array order) relative to the grid's centre."""
    shape = sitk.GetArrayViewFromImage(grid).shape
    centre = grid.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in grid.GetSize()])
    return (physical_points(grid, np.ones(shape, bool)) - centre).reshape(shape + (3,))


def test_n4_removes_a_known_multiplicative_bias_field():
    grid = oblique_grid()
    points = centred_points(grid)
    radius = np.linalg.norm(points / [70.0, 80.0, 65.0], axis=-1)
    tissue = np.where(radius < 0.6, 100.0, np.where(radius < 1.0, 70.0, 0.0))  # "white" and "grey" in air
    # smooth in physical space: +/-35% across the head, as a receive coil gives
    log_bias = 0.3 * points[..., 0] / 70 + 0.2 * points[..., 2] / 65 - 0.15 * (points[..., 1] / 80) ** 2
    noise = np.random.default_rng(0).normal(0.0, 1.0, tissue.shape)
    biased = copy_geometry((tissue * np.exp(log_bias) + noise).clip(0).astype(np.float32), grid)

    corrected = n4_correct(biased)
    assert corrected.GetPixelID() == sitk.sitkFloat32
    assert corrected.GetSize() == grid.GetSize() and corrected.GetDirection() == grid.GetDirection()
    before = sitk.GetArrayViewFromImage(biased)
    after = sitk.GetArrayViewFromImage(corrected)
    head = radius < 0.95
    # what is left of the field (up to N4's free global scale) is a tenth of what was there
    residual = np.log(after[head] / tissue[head])
    assert residual.std() < 0.25 * log_bias[head].std()
    inner = radius < 0.5
    variation = lambda values: values.std() / values.mean()  # noqa: E731
    assert variation(after[inner]) < 0.3 * variation(before[inner])


def tissue_image(means, fractions, sd=4.0, seed=1):
    """A brain of three tissues (Gaussian intensities) in a 'mask', with air around it."""
    rng = np.random.default_rng(seed)
    grid = oblique_grid(size=(40, 44, 30))
    shape = sitk.GetArrayViewFromImage(grid).shape
    labels = rng.choice(len(means), size=shape, p=fractions)
    values = np.asarray(means, float)[labels] + rng.normal(0, sd, shape)
    mask = np.zeros(shape, np.uint8)
    mask[3:-3, 4:-4, 4:-4] = 1
    values[mask == 0] = 0.0
    return copy_geometry(values.astype(np.float32), grid), copy_geometry(mask, grid), labels


@pytest.mark.parametrize("modality, means, fractions, white_matter", [
    ("t1", (30.0, 60.0, 90.0), (0.15, 0.45, 0.40), 2),  # T1: white matter is the brightest peak
    ("t2", (200.0, 120.0, 80.0), (0.10, 0.35, 0.55), 2),  # T2: the largest, darkest peak
])
def test_whitestripe_centres_white_matter_and_ignores_scale(modality, means, fractions, white_matter):
    image, mask, labels = tissue_image(means, fractions)
    result = sitk.GetArrayFromImage(whitestripe(image, mask, modality))
    inside = sitk.GetArrayViewFromImage(mask) > 0
    wm = result[inside & (labels == white_matter)]
    # centred on white matter (its histogram mode, found beside overlapping grey matter, is off by
    # well under a quarter of its sd); the stripe, a narrow band at the mode, has unit sd, so the
    # whole tissue spreads wider and the other tissues lie many units away
    assert wm.std() > 1.5
    assert abs(wm.mean()) < 0.25 * wm.std()
    for other in set(range(3)) - {white_matter}:
        assert abs(result[inside & (labels == other)].mean()) > 10 * abs(wm.mean()) + 5
    # a scanner's arbitrary gain and offset do not change the result
    rescaled = whitestripe(image * 7.5 + 300.0, mask, modality)
    np.testing.assert_allclose(sitk.GetArrayFromImage(rescaled)[inside], result[inside], atol=2e-3)


def test_zscore_inside_the_mask():
    image, mask, _ = tissue_image((30.0, 60.0, 90.0), (0.2, 0.4, 0.4))
    result = zscore(image, mask)
    inside = sitk.GetArrayViewFromImage(mask) > 0
    values = sitk.GetArrayViewFromImage(result)[inside]
    assert values.mean() == pytest.approx(0.0, abs=1e-4) and values.std() == pytest.approx(1.0, abs=1e-4)
    assert result.GetOrigin() == image.GetOrigin() and result.GetDirection() == image.GetDirection()
    # the voxels outside follow the same affine map (they are not masked out)
    outside = sitk.GetArrayViewFromImage(image)[~inside]
    mean, sd = sitk.GetArrayViewFromImage(image)[inside].mean(), sitk.GetArrayViewFromImage(image)[inside].std()
    np.testing.assert_allclose(sitk.GetArrayViewFromImage(result)[~inside], (outside - mean) / sd, atol=1e-3)
    same = normalise(image, mask, "zscore", "t1ce")
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(same), sitk.GetArrayViewFromImage(result))


def test_normalise_none_only_casts_and_an_empty_mask_is_refused():
    image, mask, _ = tissue_image((30.0, 60.0, 90.0), (0.2, 0.4, 0.4))
    untouched = normalise(sitk.Cast(image, sitk.sitkInt16), mask, "none", "t2")
    assert untouched.GetPixelID() == sitk.sitkFloat32
    with pytest.raises(InputError, match="brain mask is empty"):
        zscore(image, mask * 0)


@pytest.mark.parametrize("direction, stored", [
    (rotation_matrix(8, -5, 12), "axial"),
    # index axis 0 runs (nearly) superior-inferior: a sagittally stored volume
    (rotation_matrix(6, 0, -4) @ np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), "sagittal"),
])
def test_histogram_equalisation_is_per_axial_slice_in_physical_space(direction, stored):
    grid = oblique_grid(size=(30, 34, 26), spacing=(1.2, 1.0, 3.0), direction=direction)
    shape = sitk.GetArrayViewFromImage(grid).shape
    axis = axial_axis(grid)
    assert axis == (0 if stored == "axial" else 2)
    rng = np.random.default_rng(3)
    # every axial slice has its own scale: equalisation must undo it slice by slice
    scale = np.expand_dims(np.linspace(1.0, 20.0, shape[axis]), [a for a in range(3) if a != axis])
    values = rng.gamma(2.0, 10.0, shape) * scale
    mask = np.zeros(shape, np.uint8)
    mask[2:-2, 3:-3, 3:-3] = 1
    image, mask_image = copy_geometry(values.astype(np.float32), grid), copy_geometry(mask, grid)

    result = sitk.GetArrayFromImage(equalise_histogram_per_slice(image, mask_image))
    assert np.all(result[mask == 0] == 0.0) and result.min() >= 0.0 and result.max() <= 1.0
    for index in range(shape[axis]):
        inside = np.take(mask, index, axis=axis) > 0
        if not inside.any():
            continue
        out = np.take(result, index, axis=axis)[inside]
        original = np.take(values, index, axis=axis)[inside]
        assert np.quantile(out, [0.1, 0.5, 0.9]) == pytest.approx([0.1, 0.5, 0.9], abs=0.03)
        # monotone within the slice: the order of intensities is kept
        order = np.argsort(original)
        assert np.all(np.diff(out[order]) >= -1e-6)
