"""The follow-up logic in a real scene: three 3 mm synthetic studies (an earlier result as a label
map, one as a segmentation, one as a folder on disk) through the real `followup` command."""

import json
import shutil

import numpy as np
import pytest
import slicer
import slicer.util

from BrainTumorAILib.followup.colours import lesion_rgb
from BrainTumorAILib.synthetic.followup import Change, StudyPlan, make_followup
from BrainTumorAISlicer import BrainTumorAIError, BrainTumorAIFollowupLogic, FollowupStudy
from BrainTumorAISlicer.followup_logic import panel_studies
from BrainTumorAISlicer.scene_io import read_volume
from mrml_scene import mrml_scene_context


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    plans = [StudyPlan(changes={1: Change(0.5)}, rotation_deg=8.0), StudyPlan(changes={1: Change(1.0)}, rotation_deg=4.0)]
    folders = make_followup(tmp_path_factory.mktemp("cases"), "metastases", 21, plans, voxel_mm=3.0,
                            sequences=("t1ce",), lesion_count=3)
    shutil.copy(folders[2] / "truth" / "lesions_t1ce.nii.gz", folders[2] / "lesions.nii.gz")
    dates = [json.loads((f / "truth.json").read_text())["followup"]["date"] for f in folders]
    with mrml_scene_context() as scene:
        t1ce = [read_volume(f / "t1ce.nii.gz", f"patient t1ce {d}") for f, d in zip(folders[:2], dates)]
        labels = read_volume(folders[0] / "truth" / "lesions_t1ce.nii.gz", "baseline lesions", "vtkMRMLLabelMapVolumeNode")
        earlier = read_volume(folders[1] / "truth" / "lesions_t1ce.nii.gz", "carrier", "vtkMRMLLabelMapVolumeNode")
        segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "second study lesions")
        slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(earlier, segmentation)
        scene.RemoveNode(earlier)
        studies = [FollowupStudy(dates[0], t1ce=t1ce[0], lesions=labels),
                   FollowupStudy(dates[1], t1ce=t1ce[1], lesions=segmentation),
                   FollowupStudy(dates[2], folder=folders[2])]
        before = scene.GetNumberOfNodes()
        progress = []
        logic = BrainTumorAIFollowupLogic(work_dir=tmp_path_factory.mktemp("work"))
        results = logic.process(studies, clinical={dates[1]: {"steroids": "stable"}}, device="cpu",
                                progress_callback=progress.append)
        yield {"scene": scene, "results": results, "dates": dates, "before": before, "progress": progress,
               "studies": studies, "logic": logic}


def test_segments_keep_lesion_ids_and_colours_across_studies(finished):
    results = finished["results"]
    assert list(results.segmentations) == finished["dates"]
    names_by_study = []
    for date, node in results.segmentations.items():
        segmentation = node.GetSegmentation()
        segments = [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]
        names_by_study.append({s.GetName() for s in segments})
        for segment in segments:
            lesion_id = int(segment.GetName().split()[-1])
            assert np.allclose(segment.GetColor(), lesion_rgb(lesion_id))
        expected = {f"lesion {r['id']}" for s in results.result["studies"] if s["date"] == date
                    for r in s["lesions"] if r["volume_mm3"] is not None}
        assert {s.GetName() for s in segments} == expected
    assert names_by_study[0] & names_by_study[1] & names_by_study[2]  # the same lesions, the same names


def test_trajectory_table_chart_and_response(finished):
    results = finished["results"]
    table = results.table.GetTable()
    rows = sum(len(s["lesions"]) for s in results.result["studies"])
    assert table.GetNumberOfRows() == rows
    assert table.GetColumnByName("longest_diameter_mm") is not None
    series = slicer.mrmlScene.GetNodeByID(results.chart.GetPlotSeriesNodeID())
    sums = slicer.util.arrayFromTableColumn(series.GetTableNode(), "sum of longest diameters (mm)")
    assert np.allclose(sums, [s["sum_mm"] for s in results.result["rano_bm"]["by_study"]])
    lines = results.summary_lines()
    assert lines[0].startswith("RANO-BM: ") and lines[1].startswith("RANO 2.0: ")
    assert results.result["rano_bm"]["by_study"][1]["clinical"]["steroids"] == "stable"
    assert finished["progress"] and finished["progress"][-1].fraction == pytest.approx(1.0)
    assert finished["scene"].GetNumberOfNodes() > finished["before"]


def test_bad_studies_are_refused_before_anything_starts(finished, tmp_path):
    logic, studies = finished["logic"], finished["studies"]
    scene = finished["scene"]
    count = scene.GetNumberOfNodes()
    with pytest.raises(BrainTumorAIError, match="at least two"):
        logic.start(studies[:1])
    with pytest.raises(BrainTumorAIError, match="YYYY-MM-DD"):
        logic.start([FollowupStudy("March", t1ce=studies[0].t1ce), studies[1]])
    with pytest.raises(BrainTumorAIError, match="same date"):
        logic.start([studies[0], FollowupStudy(studies[0].date, folder=studies[2].folder)])
    with pytest.raises(BrainTumorAIError, match="T1CE"):
        logic.start([studies[0], FollowupStudy("2027-01-01")])
    assert scene.GetNumberOfNodes() == count


def test_a_failed_followup_leaves_the_scene_unchanged(finished, tmp_path):
    scene = finished["scene"]
    count = scene.GetNumberOfNodes()
    empty = tmp_path / "empty"
    empty.mkdir()
    studies = [finished["studies"][2], FollowupStudy("2027-01-01", folder=empty)]
    with pytest.raises(BrainTumorAIError, match="t1ce"):
        finished["logic"].process(studies, device="cpu")
    assert scene.GetNumberOfNodes() == count


def test_panel_studies_from_the_earlier_lines_and_the_current_volumes(finished):
    t1ce = finished["studies"][0].t1ce
    studies = panel_studies("2026-01-05=/data/jan\n\n 2026-03-06 = /data/march \n", "2026-05-05", t1ce)
    assert [(s.date, s.folder) for s in studies[:2]] == [("2026-01-05", "/data/jan"), ("2026-03-06", "/data/march")]
    assert studies[2].date == "2026-05-05" and studies[2].t1ce is t1ce and studies[2].folder is None
    lesions = finished["studies"][1].lesions
    assert panel_studies("", "2026-05-05", t1ce, t2=t1ce, lesions=lesions)[0].t2 is None  # no run needed
    with pytest.raises(BrainTumorAIError, match="YYYY-MM-DD=FOLDER"):
        panel_studies("/data/jan", "2026-05-05", t1ce)
