"""Scene <-> files through storage nodes: world geometry, transforms, ROIs, all-or-nothing blocks."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import slicer.util

from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.image import ijk_to_ras_matrix
from BrainTumorAISlicer.errors import BrainTumorAIError
from BrainTumorAISlicer.scene_io import (
    boxes_overlap, ijk_to_world, nodes_removed_on_error, read_volume, roi_world_box, write_volume)
from mrml_scene import add_roi, add_volume, ijk_to_ras, scene  # noqa: F401 - scene is a fixture

DATA = Path(__file__).resolve().parents[1] / "data"


def _ras_matrix_of_file(path) -> np.ndarray:
    """IJK-to-RAS of an image file, read by SimpleITK (LPS) independently of MRML."""
    return ijk_to_ras_matrix(sitk.ReadImage(str(path)))


def test_written_volume_keeps_oblique_geometry_and_values(scene, tmp_path):
    volume = add_volume("t2", seed=1)
    before = slicer.util.arrayFromVolume(volume).copy()
    path = write_volume(volume, tmp_path / "t2.nrrd")
    np.testing.assert_allclose(_ras_matrix_of_file(path), ijk_to_ras(), atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), before)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), before)


def test_a_volume_under_a_linear_transform_is_written_in_world_space(scene, tmp_path):
    volume = add_volume("t2")
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    to_parent = np.eye(4)
    to_parent[:3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    to_parent[:3, 3] = [5, -7, 11]
    slicer.util.updateTransformMatrixFromArray(transform, to_parent)
    volume.SetAndObserveTransformNodeID(transform.GetID())
    path = write_volume(volume, tmp_path / "t2.nrrd")
    np.testing.assert_allclose(_ras_matrix_of_file(path), to_parent @ ijk_to_ras(), atol=1e-5)
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(ijk_to_world(volume)), to_parent @ ijk_to_ras(), atol=1e-9)


def test_a_volume_under_a_non_linear_transform_is_refused(scene):
    volume = add_volume("t2")
    transform = scene.AddNewNodeByClass("vtkMRMLGridTransformNode")
    volume.SetAndObserveTransformNodeID(transform.GetID())
    with pytest.raises(BrainTumorAIError, match="non-linear transform: harden"):
        ijk_to_world(volume)


def test_read_volume_adds_one_node_with_the_file_geometry_and_no_storage_node(scene, tmp_path):
    path = write_volume(add_volume("t2", seed=2), tmp_path / "t2.nrrd")
    before = scene.GetNumberOfNodes()
    node = read_volume(path, "copy")
    assert scene.GetNumberOfNodes() == before + 1 and node.GetStorageNode() is None
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(ijk_to_world(node)), _ras_matrix_of_file(path),
                               atol=1e-5)


def test_the_roi_box_matches_the_file_slicer_wrote_for_the_same_rotated_roi(scene):
    roi = add_roi("roi", center=(10, -20, 30), size=(40, 30, 20), angle_deg=30)
    box = roi_world_box(roi)
    written_by_slicer = BoxROI.from_markups_json(DATA / "roi_rotated_RAS.mrk.json")
    np.testing.assert_allclose(box.center_ras, written_by_slicer.center_ras, atol=1e-6)
    np.testing.assert_allclose(box.axes_ras, written_by_slicer.axes_ras, atol=1e-6)
    np.testing.assert_allclose(box.size_mm, written_by_slicer.size_mm, atol=1e-6)


def test_the_roi_box_follows_a_parent_transform(scene):
    roi = add_roi("roi", center=(0, 0, 0), size=(10, 20, 30))
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    to_parent = np.diag([1.0, 1.0, 1.0, 1.0])
    to_parent[:3, 3] = [4, 5, 6]
    slicer.util.updateTransformMatrixFromArray(transform, to_parent)
    roi.SetAndObserveTransformNodeID(transform.GetID())
    box = roi_world_box(roi)
    np.testing.assert_allclose(box.center_ras, [4, 5, 6])
    np.testing.assert_allclose(box.bounds_ras(), [-1, 9, -5, 15, -9, 21])


def test_an_unplaced_roi_is_refused(scene):
    roi = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "empty")
    with pytest.raises(BrainTumorAIError, match="not placed yet"):
        roi_world_box(roi)


def test_boxes_overlap_only_when_they_share_volume():
    assert boxes_overlap([0, 10, 0, 10, 0, 10], [5, 15, 5, 15, 5, 15])
    assert not boxes_overlap([0, 10, 0, 10, 0, 10], [10, 20, 0, 10, 0, 10])
    assert not boxes_overlap([0, 10, 0, 10, 0, 10], [0, 10, 0, 10, 50, 60])


def test_nodes_added_in_a_failing_block_are_removed(scene):
    add_volume("kept")
    before = scene.GetNumberOfNodes()
    with pytest.raises(RuntimeError, match="late failure"):
        with nodes_removed_on_error():
            volume = add_volume("added")
            volume.CreateDefaultDisplayNodes()
            scene.AddNewNodeByClass("vtkMRMLTableNode", "added table")
            raise RuntimeError("late failure")
    assert scene.GetNumberOfNodes() == before
    assert scene.GetFirstNodeByName("kept") is not None
