"""BrainTumorAITrainingLogic: cases indexed from the scene, the manifest the core reads back, the
commands it starts (no long training here: a refused training shows the failure path)."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import slicer.util

from BrainTumorAILib.training.cases import index_manifest
from BrainTumorAILib.image import ijk_to_ras_matrix
from BrainTumorAISlicer import BrainTumorAIError, BrainTumorAITrainingLogic
from BrainTumorAISlicer.scene_cases import SEG_MARGIN_MM
from BrainTumorAISlicer.scene_io import ijk_to_world
from mrml_scene import add_roi, add_volume, ijk_to_ras, scene  # noqa: F401 - scene is a fixture

BRATS = "BraTS-GLI-00001-000"


def _ras_matrix_of_file(path) -> np.ndarray:
    """IJK-to-RAS of an image file, read by SimpleITK (LPS) independently of MRML."""
    return ijk_to_ras_matrix(sitk.ReadImage(str(path)))


def _segmentation_on(reference, labels: np.ndarray, name: str):
    labelmap = slicer.util.addVolumeFromArray(labels, ijkToRAS=slicer.util.arrayFromVTKMatrix(ijk_to_world(reference)),
                                              name="labels", nodeClassName="vtkMRMLLabelMapVolumeNode")
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(labelmap, node)
    slicer.mrmlScene.RemoveNode(labelmap)
    return node


@pytest.fixture
def two_cases(scene):
    """A BraTS-named case with a segmentation (labels 1 and 3) and a case with an ROI node."""
    brats = {suffix: add_volume(f"{BRATS}-{suffix}", seed=i) for i, suffix in enumerate(("t1c", "t2w", "t2f", "t1n"))}
    labels = np.zeros(slicer.util.arrayFromVolume(brats["t1c"]).shape, np.uint8)
    labels[3:6, 5:10, 4:9] = 1
    labels[6:8, 12:16, 10:14] = 3
    segmentation = _segmentation_on(brats["t1c"], labels, f"{BRATS}-seg")
    other_grid = ijk_to_ras(spacing=(1.0, 1.0, 1.0), origin=(15.0, -20.0, 10.0), angles=(0, 0, 30))
    add_volume("case02_T1+C", matrix=other_grid, seed=5)
    add_volume("case02_T2", matrix=other_grid, seed=6)
    roi = add_roi("case02 ROI", (25.0, -10.0, 15.0), (10, 12, 6), angle_deg=45)
    add_volume("MRHead", seed=7)  # no sequence in the name: not a case
    return {"brats": brats, "labels": labels, "segmentation": segmentation, "roi": roi}


def test_scene_volumes_group_into_cases_by_name(two_cases):
    cases = BrainTumorAITrainingLogic.scene_cases(labels={BRATS: "GBM", "case02": "metastasis"},
                                                  patients={"case02": "patient-7"})
    assert [c.case_id for c in cases] == [BRATS, "case02"]
    brats, case02 = cases
    assert brats.volumes == {"t1ce": two_cases["brats"]["t1c"], "t2": two_cases["brats"]["t2w"],
                             "flair": two_cases["brats"]["t2f"], "t1": two_cases["brats"]["t1n"]}
    assert brats.segmentation is two_cases["segmentation"] and brats.roi is None
    assert sorted(case02.volumes) == ["t1ce", "t2"] and case02.roi is two_cases["roi"]
    assert (brats.label, brats.patient_id, case02.label, case02.patient_id) == ("GBM", BRATS, "metastasis", "patient-7")


def test_the_manifest_is_read_back_by_the_core_with_world_geometry_and_label_values(two_cases, tmp_path):
    cases = BrainTumorAITrainingLogic.scene_cases(labels={BRATS: "GBM", "case02": "metastasis"})
    from BrainTumorAISlicer.scene_cases import write_manifest

    indexed = {c.case_id: c for c in index_manifest(write_manifest(cases, tmp_path))}
    brats, case02 = indexed[BRATS], indexed["case02"]
    assert (brats.label, case02.label) == ("GBM", "metastasis")
    t1ce = two_cases["brats"]["t1c"]
    np.testing.assert_allclose(_ras_matrix_of_file(brats.sequences["t1ce"]),
                               slicer.util.arrayFromVTKMatrix(ijk_to_world(t1ce)), atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(brats.sequences["flair"]))),
                                  slicer.util.arrayFromVolume(two_cases["brats"]["t2f"]))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(brats.seg))), two_cases["labels"])
    np.testing.assert_allclose(_ras_matrix_of_file(brats.seg), _ras_matrix_of_file(brats.sequences["t1ce"]), atol=1e-5)
    # ROI: the ROI node's box for case02, the segmentation's extent plus a margin for the BraTS case
    roi = two_cases["roi"]
    expected = np.zeros(6)
    roi.GetRASBounds(expected)
    np.testing.assert_allclose(case02.roi_ras, expected, atol=0.01)
    seg_bounds = np.zeros(6)
    two_cases["segmentation"].GetRASBounds(seg_bounds)
    np.testing.assert_allclose(brats.roi_ras, seg_bounds + np.tile([-SEG_MARGIN_MM, SEG_MARGIN_MM], 3), atol=0.01)
    assert case02.seg is None and "flair" not in case02.sequences


def test_two_volumes_of_one_sequence_in_a_case_are_refused(scene):
    add_volume("case03_t2", seed=1)
    add_volume("case03 T2w", seed=2)
    with pytest.raises(BrainTumorAIError, match="case case03 has two t2 volumes"):
        BrainTumorAITrainingLogic.scene_cases()


def test_train_and_evaluate_commands():
    arguments = BrainTumorAITrainingLogic.train_arguments("gbm-met", "cases.csv", "out", preset="shin2021", folds=3)
    assert [str(a) for a in arguments] == ["train", "--task", "gbm-met", "--data", "cases.csv", "--out", "out",
                                           "--preset", "shin2021", "--folds", "3", "--progress", "json"]
    assert [str(a) for a in BrainTumorAITrainingLogic.evaluate_arguments("gbm-met", "runs", "truth", "eval")] == \
        ["evaluate", "--task", "gbm-met", "--pred", "runs", "--truth", "truth", "--out", "eval"]


def test_a_training_the_core_refuses_raises_its_message(two_cases, tmp_path):
    scene_cases = BrainTumorAITrainingLogic.scene_cases(labels={BRATS: "GBM", "case02": "metastasis"})
    with pytest.raises(BrainTumorAIError, match="^train failed: .*(fold|patient|case)"):
        BrainTumorAITrainingLogic().train("gbm-met", scene_cases, tmp_path / "run", preset="shin2021-finetune",
                                          folds=5, register=False)
    assert Path(tmp_path / "run" / "cases" / "cases.csv").is_file()
    assert not (tmp_path / "run" / "training_report.json").exists()
