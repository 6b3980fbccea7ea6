"""ROI boxes: RAS/LPS conventions, rotated Markups files, voxel boxes on oblique grids, errors."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import lps_to_ras
from BrainTumorAILib.roi import BoxROI, load_roi
from conftest import make_image

DATA = Path(__file__).parents[1] / "data"


def identity_volume(size=(100, 100, 60), spacing=(1.0, 1.0, 1.0), origin=(-50.0, -50.0, -30.0)):
    return make_image(size=size, spacing=spacing, origin=origin, direction=np.eye(3))


def test_ras_box_lands_on_the_lps_voxels():
    # RAS R=+10..+20 is LPS x=-20..-10; with origin -50 and 1 mm spacing that is i=30..40
    volume = identity_volume()
    box = BoxROI.from_ras_bounds([10, 20, -5, 5, 0, 4]).voxel_box(volume)
    assert box.start == (30, 45, 30) and box.stop == (41, 56, 35)
    assert box.axial_slices == range(30, 35)


def test_both_coordinate_systems_of_slicer_files_give_the_same_box():
    lps = BoxROI.from_markups_json(DATA / "roi_rotated_LPS.mrk.json")
    ras = BoxROI.from_markups_json(DATA / "roi_rotated_RAS.mrk.json")
    for roi in (lps, ras):
        np.testing.assert_allclose(roi.center_ras, [10, -20, 30])
        np.testing.assert_allclose(roi.size_mm, [40, 30, 20])
        np.testing.assert_allclose(roi.axes_ras[:, 0], [np.cos(np.pi / 6), np.sin(np.pi / 6), 0], atol=1e-9)
    # Slicer reported these bounds for the same node
    np.testing.assert_allclose(ras.bounds_ras(), [-14.8205, 34.8205, -42.9904, 2.9904, 20, 40], atol=1e-3)


def test_written_markups_file_reads_back(tmp_path):
    roi = BoxROI.from_markups_json(DATA / "roi_rotated_RAS.mrk.json")
    for system in ("LPS", "RAS"):
        back = BoxROI.from_markups_json(roi.to_markups_json(tmp_path / f"r_{system}.mrk.json", system))
        np.testing.assert_allclose(back.corners_ras(), roi.corners_ras(), atol=1e-9)


def test_a_scaled_rotated_box_keeps_its_centre_and_axes_and_scales_each_edge():
    roi = BoxROI.from_markups_json(DATA / "roi_rotated_RAS.mrk.json")
    wider = roi.scaled([1.25, 0.8, 1.0])
    np.testing.assert_allclose(wider.center_ras, roi.center_ras)
    np.testing.assert_allclose(wider.axes_ras, roi.axes_ras)
    np.testing.assert_allclose(wider.size_mm, roi.size_mm * [1.25, 0.8, 1.0])
    # each corner moves along the box's own (rotated) axes, about the centre, in physical space
    local = (wider.corners_ras() - roi.center_ras) @ roi.axes_ras
    np.testing.assert_allclose(np.abs(local), np.tile(wider.size_mm / 2, (8, 1)), atol=1e-9)
    np.testing.assert_allclose(roi.scaled(1.3).size_mm, roi.size_mm * 1.3)


def test_rotated_mask_on_an_oblique_anisotropic_grid_is_exact_in_physical_space():
    volume = make_image(size=(60, 70, 20), spacing=(0.8, 0.9, 3.0), origin=(-20, 0, -10))
    roi = BoxROI.from_markups_json(DATA / "roi_rotated_RAS.mrk.json")
    mask = roi.mask(volume)
    assert mask.any()
    z, y, x = np.nonzero(np.ones_like(mask))
    points = np.array([volume.TransformIndexToPhysicalPoint((int(i), int(j), int(k))) for k, j, i in zip(z, y, x)])
    inside = roi.contains_ras(lps_to_ras(points)).reshape(mask.shape)
    np.testing.assert_array_equal(mask.astype(bool), inside)
    # the voxel box encloses every masked voxel, and its slices are the masked slices
    box = roi.voxel_box(volume)
    assert mask[box.numpy_slices()].sum() == mask.sum()
    assert set(np.nonzero(mask.any(axis=(1, 2)))[0]) <= set(box.axial_slices)


def test_box_partly_outside_is_clipped():
    volume = identity_volume()
    box = BoxROI.from_ras_bounds([-100, 0, -5, 5, 0, 4]).voxel_box(volume)
    assert box.start[0] >= 0 and box.stop[0] == 100


def test_box_outside_the_volume_is_a_clear_error():
    with pytest.raises(InputError, match="lies outside the t2 volume"):
        BoxROI.from_ras_bounds([200, 240, 0, 10, 0, 10]).voxel_box(identity_volume(), "t2")


@pytest.mark.parametrize("text", ["10,5,0,1,0,1", "0,0,0,1,0,1", "1,2,3", "a,b,c,d,e,f"])
def test_empty_or_malformed_boxes(text):
    with pytest.raises(InputError):
        BoxROI.parse_ras_bounds(text)


def test_box_thinner_than_a_voxel_centre_spacing_is_named():
    volume = identity_volume(spacing=(1.0, 1.0, 4.0))
    with pytest.raises(InputError, match="covers no voxel centre"):
        BoxROI.from_ras_bounds([-10, 10, -10, 10, 1.0, 1.5]).mask(volume)


def test_bad_markups_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        BoxROI.from_markups_json(tmp_path / "missing.mrk.json")
    bad = tmp_path / "bad.mrk.json"
    bad.write_text('{"markups": [{"type": "Fiducial"}]}')
    with pytest.raises(InputError, match="not a Slicer Markups ROI"):
        BoxROI.from_markups_json(bad)


def test_load_roi_takes_one_source():
    assert load_roi() is None
    with pytest.raises(InputError, match="either"):
        load_roi(DATA / "roi_rotated_RAS.mrk.json", "0,1,0,1,0,1")
