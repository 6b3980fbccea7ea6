"""BrainTumorAILogic without model weights: input checks, the command it starts, failure and cancel
leave the scene as it was. (The full run on a synthetic case is test_mrml_end_to_end.py.)"""

import numpy as np
import psutil
import pytest
import slicer
import slicer.util

from BrainTumorAILib.roi import BoxROI
from BrainTumorAISlicer import BrainTumorAIError, BrainTumorAILogic, RunCancelled
from BrainTumorAISlicer.logic import parse_tasks
from mrml_scene import add_roi, add_volume, scene  # noqa: F401 - scene is a fixture

ROI_CENTER = (20.0, -10.0, 20.0)  # inside the test volumes (see mrml_scene.ijk_to_ras)


def _inputs():
    return {"t1ce": add_volume("case_t1ce", seed=1), "t2": add_volume("case_t2", seed=2),
            "roi": add_roi("case_roi", ROI_CENTER, (12, 10, 8), angle_deg=20)}


def _refused(scene, logic, work_dir, match, **kwargs):
    before = scene.GetNumberOfNodes()
    with pytest.raises(BrainTumorAIError, match=match):
        logic.process(**kwargs)
    assert scene.GetNumberOfNodes() == before
    assert not any(work_dir.iterdir())  # nothing written, nothing started


def test_missing_t2_is_refused_before_anything_starts(scene, tmp_path):
    inputs = _inputs()
    _refused(scene, BrainTumorAILogic(work_dir=tmp_path), tmp_path, "select a T2 volume",
             t1ce=inputs["t1ce"], t2=None, roi=inputs["roi"])


@pytest.mark.parametrize("change, match", [
    ({"tasks": "gbm-met,nonsense"}, "unknown task nonsense"),
    ({"tasks": ["gbm-met"], "roi": None}, "gbm-met needs an ROI"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_bad_options_are_refused(scene, tmp_path, change, match):
    inputs = _inputs()
    _refused(scene, BrainTumorAILogic(work_dir=tmp_path), tmp_path, match, **{**inputs, **change})


def test_a_labelmap_is_not_an_mri_input(scene, tmp_path):
    inputs = _inputs()
    labels = slicer.util.addVolumeFromArray(np.zeros((4, 5, 6), np.uint8), name="labels",
                                            nodeClassName="vtkMRMLLabelMapVolumeNode")
    _refused(scene, BrainTumorAILogic(work_dir=tmp_path), tmp_path, "'labels' is not a scalar volume",
             **{**inputs, "t2": labels})


def test_an_roi_outside_the_volumes_or_not_placed_is_refused(scene, tmp_path):
    inputs = _inputs()
    far = add_roi("far away", (500.0, 500.0, 500.0), (10, 10, 10))
    logic = BrainTumorAILogic(work_dir=tmp_path)
    _refused(scene, logic, tmp_path, "ROI 'far away' lies outside the T1CE volume 'case_t1ce'", **{**inputs, "roi": far})
    unplaced = scene.AddNewNodeByClass("vtkMRMLMarkupsROINode", "unplaced")
    _refused(scene, logic, tmp_path, "not placed yet", **{**inputs, "roi": unplaced})


def test_task_names_are_parsed_from_lists_and_strings():
    assert parse_tasks("all") == parse_tasks([]) == parse_tasks("") == []
    assert parse_tasks(" gbm-met , ") == parse_tasks(["gbm-met"]) == ["gbm-met"]


def test_the_run_command_gets_the_written_inputs_and_the_roi_in_world_space(scene, tmp_path):
    inputs = _inputs()
    logic = BrainTumorAILogic(work_dir=tmp_path)
    run = logic.start(**inputs, tasks=["gbm-met"], device="cpu")
    try:
        argv = run.process.argv
        assert argv[1:4] == ["-m", "BrainTumorAILib", "run"]
        options = dict(zip(argv[4::2], argv[5::2]))
        assert options["--t1ce"].endswith("inputs/t1ce.nrrd") and options["--t2"].endswith("inputs/t2.nrrd")
        assert (options["--tasks"], options["--device"], options["--progress"]) == ("gbm-met", "cpu", "json")
        assert options["--out"] == str(run.output_dir)
        written = BoxROI.from_markups_json(options["--roi"])
        np.testing.assert_allclose(written.center_ras, ROI_CENTER, atol=1e-9)
        np.testing.assert_allclose(np.degrees(np.arctan2(written.axes_ras[1, 0], written.axes_ras[0, 0])), 20.0)
    finally:
        run.cancel()


def test_a_run_the_core_refuses_raises_its_message_and_leaves_the_scene_unchanged(scene, tmp_path):
    inputs = _inputs()
    array = slicer.util.arrayFromVolume(inputs["t2"])
    array[3, 4, 5] = np.nan
    slicer.util.arrayFromVolumeModified(inputs["t2"])
    before = scene.GetNumberOfNodes()
    progress = []
    with pytest.raises(BrainTumorAIError, match="^t2: volume contains NaN or infinite values$"):
        BrainTumorAILogic(work_dir=tmp_path).process(**inputs, device="cpu", progress_callback=progress.append)
    assert scene.GetNumberOfNodes() == before
    assert not any(tmp_path.iterdir())  # inputs and the run folder are removed
    assert np.isnan(slicer.util.arrayFromVolume(inputs["t2"])[3, 4, 5])  # the input itself is untouched


def test_cancel_stops_the_core_process_and_leaves_the_scene_unchanged(scene, tmp_path):
    inputs = _inputs()
    before = scene.GetNumberOfNodes()
    logic = BrainTumorAILogic(work_dir=tmp_path)
    run = logic.start(**inputs, device="cpu")
    pid = run.process.pid
    logic.cancel()
    with pytest.raises(RunCancelled):
        run.load_results()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert scene.GetNumberOfNodes() == before
    assert not any(tmp_path.iterdir())
