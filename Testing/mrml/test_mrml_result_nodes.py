"""Result files of `braintumorai run` -> scene nodes, on a result folder laid out as the contract says."""

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import slicer.util
from scipy.spatial.transform import Rotation

from BrainTumorAILib.catalog import LESION_CSV_COLUMNS
from BrainTumorAISlicer.result_nodes import (
    LESION_COLOR_NODE_ID, MAP_DISPLAY_THRESHOLD, OVERLAY_OPACITY, RESULT_ATTRIBUTE, load_result_nodes,
    result_table_rows)
from BrainTumorAISlicer.scene_io import ijk_to_world
from mrml_scene import add_volume, scene  # noqa: F401 - scene is a fixture

RESULT = {
    "tasks": {
        "gbm-met": {"label": "GBM", "predictive_index": 0.8125, "cutoff": 0.5, "n_slices": 4, "votes": [1, 1, 0, 1],
                    "model_set": "gbm-met-demo", "notice": "demo weights, not for clinical use"},
        "mets-3d": {"lesions": [{"id": 1}, {"id": 2}]},
        "tumour-type": {"label": "hgg", "probabilities": {"hgg": 0.7, "metastasis": 0.2, "healthy": 0.1}},
    },
    "models": {"gbm-met": {"name": "gbm-met-demo", "version": "1.0.0", "demo": True, "notice": "demo"},
               "mets-3d": {"name": "mets-demo", "version": "1.0.0", "demo": True, "notice": "demo"},
               "tumour-type": {"name": "tt-demo", "version": "1.0.0", "demo": True, "notice": "demo"}},
    "device": "cpu", "timings_s": {},
}


def _oblique_image(array: np.ndarray, spacing, origin, angles) -> sitk.Image:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(Rotation.from_euler("xyz", angles, degrees=True).as_matrix().ravel().tolist())
    return image


def _ras_matrix(image: sitk.Image) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    matrix[:3, 3] = image.GetOrigin()
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ matrix


@pytest.fixture
def run_output(tmp_path):
    """A result folder: a CAM on an oblique T2-like grid, lesion labels and probabilities on another."""
    rng = np.random.default_rng(3)
    cam = _oblique_image(rng.random((10, 16, 14)).astype(np.float32), (1.2, 0.9, 3.5), (20.0, -15.0, 8.0), (6, -4, 15))
    labels = np.zeros((12, 18, 16), np.uint8)
    labels[2:5, 3:7, 4:9] = 1
    labels[7:10, 10:14, 9:13] = 2
    seg = _oblique_image(labels, (0.8, 1.1, 2.5), (-12.0, 30.0, -6.0), (-7, 9, 3))
    prob = _oblique_image((labels > 0).astype(np.float32) * 0.9, (0.8, 1.1, 2.5), (-12.0, 30.0, -6.0), (-7, 9, 3))
    type_cam = _oblique_image(rng.random(labels.shape).astype(np.float32), (0.8, 1.1, 2.5), (-12.0, 30.0, -6.0),
                              (-7, 9, 3))  # tumour-type's Grad-CAM: the T1CE grid, like the lesions
    for name, image in (("gbm-met_cam", cam), ("mets-3d_seg", seg), ("mets-3d_prob", prob),
                        ("tumour-type_cam", type_cam)):
        sitk.WriteImage(image, str(tmp_path / f"{name}.nii.gz"))
    with open(tmp_path / "lesions.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=LESION_CSV_COLUMNS)
        writer.writeheader()
        for lesion_id in (1, 2):
            writer.writerow({"task": "mets-3d", "id": lesion_id, "volume_mm3": 132.00000001 * lesion_id,
                             "centroid_r": 1.5, "centroid_a": -2.25, "centroid_s": 3.125,
                             "longest_diameter_mm": 7.0, "max_probability": 0.9})
    (tmp_path / "result.json").write_text(json.dumps(RESULT))
    return tmp_path, {"cam": cam, "seg": seg, "prob": prob, "labels": labels}


def _load(scene, folder):
    inputs = {"t1ce": add_volume("case t1ce", seed=1), "t2": add_volume("case t2", seed=2)}
    before = scene.GetNumberOfNodes()
    nodes = load_result_nodes(folder, RESULT, inputs, "case")
    return inputs, nodes, before


def test_activation_map_keeps_the_file_geometry_and_is_the_foreground_overlay(scene, run_output):
    folder, images = run_output
    inputs, nodes, _ = _load(scene, folder)
    cam = nodes.activation_maps["gbm-met"]
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(ijk_to_world(cam)), _ras_matrix(images["cam"]), atol=1e-5)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(cam), sitk.GetArrayFromImage(images["cam"]))
    display = cam.GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel()) == pytest.approx((1.0, 0.5))
    assert display.GetApplyThreshold() and display.GetLowerThreshold() == pytest.approx(MAP_DISPLAY_THRESHOLD)
    assert display.GetColorNodeID() == "vtkMRMLColorTableNodeRainbow"
    composites = scene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    assert composites.GetNumberOfItems() == 3
    for i in range(3):
        composite = composites.GetItemAsObject(i)
        assert composite.GetForegroundVolumeID() == cam.GetID()
        assert composite.GetBackgroundVolumeID() == inputs["t2"].GetID()  # gbm-met maps live on the T2 grid
        assert composite.GetForegroundOpacity() == pytest.approx(OVERLAY_OPACITY)


def test_lesion_segments_match_the_label_file_voxel_for_voxel(scene, run_output):
    folder, images = run_output
    _, nodes, _ = _load(scene, folder)
    segmentation_node = nodes.segmentations["mets-3d"]
    segmentation = segmentation_node.GetSegmentation()
    reference = nodes.probability_maps["mets-3d"]  # same grid as the label file
    np.testing.assert_allclose(slicer.util.arrayFromVTKMatrix(ijk_to_world(reference)), _ras_matrix(images["seg"]),
                               atol=1e-5)
    names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
    assert names == ["lesion 1", "lesion 2"]
    colors = scene.GetNodeByID(LESION_COLOR_NODE_ID)
    for lesion_id in (1, 2):
        segment_id = segmentation.GetSegmentIdBySegmentName(f"lesion {lesion_id}")
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation_node, segment_id, reference)
        np.testing.assert_array_equal(mask > 0, images["labels"] == lesion_id)
        segment = segmentation.GetSegment(segment_id)
        assert segment.GetTerminology().split("~")[2] == "SCT^14799000^Neoplasm, metastatic"
        rgba = [0.0] * 4
        colors.GetColor(lesion_id, rgba)
        assert segment.GetColor() == pytest.approx(rgba[:3])


def test_table_holds_predictions_model_sets_and_one_row_per_lesion(scene, run_output):
    folder, _ = run_output
    _, nodes, _ = _load(scene, folder)
    table = nodes.table.GetTable()
    rows = [{table.GetColumnName(c): table.GetValue(r, c).ToString() for c in range(table.GetNumberOfColumns())}
            for r in range(table.GetNumberOfRows())]
    findings = {(row["task"], row["finding"]): row["value"] for row in rows if row["finding"] != "lesion"}
    assert findings[("gbm-met", "predictive index")] == "0.8125"
    assert findings[("gbm-met", "label")] == "GBM"
    assert findings[("gbm-met", "model set")] == "gbm-met-demo"
    assert findings[("tumour-type", "probability hgg")] == "0.7"
    assert findings[("mets-3d", "model set")] == "mets-demo"
    assert ("gbm-met", "votes") not in findings  # per-slice lists stay in result.json
    lesions = [row for row in rows if row["finding"] == "lesion"]
    assert [(row["lesion"], row["volume_mm3"]) for row in lesions] == [("1", "132"), ("2", "264")]


def test_tumour_type_probabilities_become_a_bar_chart(scene, run_output):
    folder, _ = run_output
    _, nodes, _ = _load(scene, folder)
    chart = nodes.charts["tumour-type"]
    assert chart.GetNumberOfPlotSeriesNodes() == 1
    series = chart.GetNthPlotSeriesNode(0)
    assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar
    table = series.GetTableNode().GetTable()
    classes = [table.GetValueByName(r, "class").ToString() for r in range(table.GetNumberOfRows())]
    probabilities = [table.GetValueByName(r, "probability").ToDouble() for r in range(table.GetNumberOfRows())]
    assert dict(zip(classes, probabilities)) == RESULT["tasks"]["tumour-type"]["probabilities"]
    assert chart.GetYAxisRange() == (0.0, 1.0)


def test_every_result_node_is_tagged_with_its_task_and_nothing_else_is_added(scene, run_output):
    folder, _ = run_output
    _, nodes, before = _load(scene, folder)
    for node in nodes.all_nodes():
        assert node.GetAttribute(RESULT_ATTRIBUTE) in ("gbm-met", "mets-3d", "tumour-type", "all")
    added = [scene.GetNthNode(i).GetClassName() for i in range(before, scene.GetNumberOfNodes())]
    assert sorted(added) == sorted(
        ["vtkMRMLSegmentationNode", "vtkMRMLSegmentationDisplayNode"]
        + ["vtkMRMLScalarVolumeNode", "vtkMRMLScalarVolumeDisplayNode"] * 3  # two CAMs, probability map
        + ["vtkMRMLTableNode"] * 2 + ["vtkMRMLPlotSeriesNode", "vtkMRMLPlotChartNode"])  # results, chart


def test_table_rows_come_from_result_json_and_lesions_csv():
    rows = result_table_rows({"tasks": {"t": {"label": "x", "score": 0.123456, "empty": ""}}, "models": {}},
                             [{"task": "t", "id": "4", "volume_mm3": "10.0"}])
    assert rows == [{"task": "t", "finding": "label", "value": "x"},
                    {"task": "t", "finding": "score", "value": "0.1235"},
                    {"task": "t", "finding": "lesion", "lesion": "4", "volume_mm3": "10"}]


def test_the_result_check_accepts_this_run_and_catches_changed_inputs_or_geometry(scene, run_output):
    from BrainTumorAISlicer.logic import RunResults
    from BrainTumorAISlicer.result_check import result_problems, snapshot_inputs
    from BrainTumorAISlicer.scene_io import read_volume

    folder, _ = run_output
    # inputs on the grids the contract gives the outputs: gbm-met -> T2, other tasks -> T1CE
    inputs = {"t2": read_volume(folder / "gbm-met_cam.nii.gz", "t2"),
              "t1ce": read_volume(folder / "mets-3d_seg.nii.gz", "t1ce")}
    snapshot = snapshot_inputs(inputs)
    results = RunResults(RESULT, load_result_nodes(folder, RESULT, inputs, "case"), folder)
    assert result_problems(results, inputs, snapshot) == []
    slicer.util.arrayFromVolume(inputs["t2"])[0, 0, 0] += 1
    results.nodes.activation_maps["gbm-met"].SetSpacing(2.0, 2.0, 2.0)
    assert result_problems(results, inputs, snapshot) == [
        "gbm-met cam: node geometry differs from gbm-met_cam.nii.gz", "input t2 voxels changed"]
