"""`braintumorai followup` end to end on a small synthetic follow-up (3 mm phantoms, given masks and
a run output folder), and its bad-input contract."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from BrainTumorAILib import cli
from BrainTumorAILib.followup.rano2 import RANO2
from BrainTumorAILib.followup.rano_bm import RANO_BM
from BrainTumorAILib.followup.response import assess
from BrainTumorAILib.image import ras_to_lps
from BrainTumorAILib.preprocessing.transforms import apply
from BrainTumorAILib.synthetic.followup import Change, StudyPlan, make_followup, truth_trajectory

REGISTRATION_TOLERANCE_MM = 1.5  # half a 3 mm voxel


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Three studies: the baseline and the second as a T1CE with a lesion mask, the first as a run output."""
    root = tmp_path_factory.mktemp("followup")
    plans = [StudyPlan(changes={1: Change(0.5), 2: Change(0.5)}, rotation_deg=10.0),
             StudyPlan(changes={1: Change(0.9), 2: Change(0.9)}, rotation_deg=5.0)]
    folders = make_followup(root / "cases", "metastases", 21, plans, voxel_mm=3.0, sequences=("t1ce",),
                            lesion_count=4)
    for folder in (folders[0], folders[2]):
        shutil.copy(folder / "truth" / "lesions_t1ce.nii.gz", folder / "lesions.nii.gz")
    run = root / "run-of-study-1"
    run.mkdir()
    shutil.copy(folders[1] / "truth" / "lesions_t1ce.nii.gz", run / "mets-3d_seg.nii.gz")
    (run / "result.json").write_text(json.dumps({"tasks": {"mets-3d": {"lesions": []}},
                                                 "input_files": {"t1ce": str(folders[1] / "t1ce.nii.gz")}}))
    dates = [json.loads((f / "truth.json").read_text())["followup"]["date"] for f in folders]
    return {"folders": folders, "dirs": [folders[0], run, folders[2]], "dates": dates}


def study_options(studies):
    return [option for date, folder in zip(studies["dates"], studies["dirs"]) for option in ("--study", f"{date}={folder}")]


def test_followup_end_to_end(studies, tmp_path):
    out = tmp_path / "out"
    clinical = tmp_path / "clinical.json"
    clinical.write_text(json.dumps({studies["dates"][1]: {"steroids": "stable", "clinical_status": "stable",
                                                          "non_target_progression": False}}))
    done = subprocess.run([sys.executable, "-m", "BrainTumorAILib", "followup", *study_options(studies),
                           "--out", str(out), "--clinical", str(clinical)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "RANO-BM:" in done.stdout and "RANO 2.0:" in done.stdout
    result = json.loads((out / "followup.json").read_text())
    assert [s["date"] for s in result["studies"]] == studies["dates"]
    assert result["studies"][1]["source"] == "run output (mets-3d)"

    truths = [json.loads((f / "truth.json").read_text()) for f in studies["folders"]]
    poses = [np.asarray(t["world_to_sequence"]["t1ce"]) for t in truths]
    lesion_points = ras_to_lps(np.array([l["centroid_ras"] for l in truths[0]["followup"]["lesions"]]))
    for study, pose in zip(result["studies"][1:], poses[1:]):
        registration = study["registration"]
        assert registration["residual_mm"] < REGISTRATION_TOLERANCE_MM
        true = pose @ np.linalg.inv(poses[0])
        error = np.linalg.norm(apply(registration["matrix_lps"], lesion_points) - apply(true, lesion_points), axis=1)
        assert error.max() < REGISTRATION_TOLERANCE_MM
    for study in result["studies"]:
        for lesion in study["lesions"]:
            assert {"id", "volume_mm3", "longest_diameter_mm", "perpendicular_diameter_mm", "status"} <= set(lesion)

    truth = truth_trajectory(studies["folders"])
    for key, criterion in (("rano_bm", RANO_BM), ("rano2", RANO2)):
        expected = [s["category"] for s in assess(criterion, truth)["by_study"]]
        assert [s["category"] for s in result[key]["by_study"]] == expected
        assert result[key]["category"] == expected[-1]
        assert "sum_mm" in result["rano_bm"]["by_study"][1] and result[key]["volumetric"]["category"]
    # the second study's clinical items were given: nothing pending there (its category is the truth's, above)
    assert result["rano_bm"]["by_study"][1]["pending"] == []

    rows = (out / "followup.csv").read_text().splitlines()
    assert rows[0].startswith("id,date,status,volume_mm3,longest_diameter_mm")
    assert len(rows) - 1 == sum(len(s["lesions"]) for s in result["studies"])
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 1 + len(set(result["rano_bm"]["targets"]) | set(result["rano2"]["targets"]))
    assert result["rano_bm"]["display"] in report
    for date in studies["dates"]:
        assert (out / f"lesions_{date}.nii.gz").is_file()


@pytest.mark.parametrize("problem", ["one study", "bad date", "missing folder", "no t1ce", "same date",
                                     "clinical for another date"])
def test_bad_followup_input(problem, studies, tmp_path, capfd):
    options = study_options(studies)
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong_clinical = tmp_path / "clinical.json"
    wrong_clinical.write_text('{"2020-01-01": {"steroids": "none"}}')
    argv = {
        "one study": options[:2],
        "bad date": ["--study", f"March={studies['dirs'][0]}"] + options[2:],
        "missing folder": options + ["--study", f"2027-01-01={tmp_path / 'nowhere'}"],
        "no t1ce": options + ["--study", f"2027-01-01={empty}"],
        "same date": options + ["--study", f"{studies['dates'][0]}={studies['dirs'][2]}"],
        "clinical for another date": options + ["--clinical", str(wrong_clinical)],
    }[problem]
    out = tmp_path / "out"
    capfd.readouterr()
    status = cli.main(["followup", *argv, "--out", str(out)])
    err = capfd.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
