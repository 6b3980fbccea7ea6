"""Cross-task answer checks: where two methods' answers cannot both be right, and where people read it."""

import pytest

from BrainTumorAILib.answer_checks import answer_checks
from BrainTumorAILib.cohort.summary import result_row
from BrainTumorAILib.report.html import build_report
from BrainTumorAILib.report.text import answer_check_lines, print_run_summary
from BrainTumorAILib.runner import RunResult


GRID_MM = 4.0  # the bundled tumour-type set's grid: lesions from 8 mm on are held against it
VISIBLE_MM = 2 * GRID_MM


def lesion(diameter_mm: float) -> dict:
    return {"id": 1, "volume_mm3": diameter_mm ** 3 / 2, "longest_diameter_mm": diameter_mm}


def result(tumour_type=None, gbm_met=None, mets_3d=None, mets_25d=None, agreed=None, grid_mm=GRID_MM) -> dict:
    tasks = {}
    if tumour_type:
        tasks["tumour-type"] = {"label": tumour_type, "probabilities": {tumour_type: 0.9},
                                "input_grid": {"size": 48, "spacing_mm": grid_mm}}
    if gbm_met:
        tasks["gbm-met"] = {"label": gbm_met, "predictive_index": 0.8, "cutoff": 0.5}
    for task, lesions in (("mets-3d", mets_3d), ("mets-25d", mets_25d)):
        if lesions is not None:
            tasks[task] = {"lesions": lesions, "n_lesions": len(lesions)}
    out = {"tasks": tasks, "models": {}, "notes": [], "timings_s": {}, "inputs": {}}
    if agreed is not None:
        out["agreed_lesions"] = {"lesions": agreed, "n_lesions": len(agreed)}
    return out


def test_healthy_against_a_lesion_both_detectors_found():
    checks = answer_checks(result("healthy", mets_3d=[lesion(12)], mets_25d=[lesion(12)], agreed=[lesion(12)]))
    record = checks["checks"]["tumour-type_vs_metastasis_detection"]
    assert checks["status"] == record["status"] == "warning"
    assert (record["value"], record["threshold"]) == (12.0, VISIBLE_MM)
    assert record["message"] == "tumour-type reads no tumour, but both metastasis methods found 1 lesion (largest 12 mm)"


def test_the_agreed_list_decides_when_both_detectors_ran():
    """A lesion only mets-3d found (its false lesions are what the agreed list leaves out) is no contradiction."""
    checks = answer_checks(result("healthy", mets_3d=[lesion(15)], mets_25d=[], agreed=[]))
    assert checks["status"] == "ok"
    assert checks["checks"]["tumour-type_vs_metastasis_detection"]["message"] == (
        "tumour-type reads healthy; both metastasis methods found 0 lesions")


@pytest.mark.parametrize("label, lesions, status", [
    ("healthy", [lesion(VISIBLE_MM - 0.5)], "ok"),   # too small for tumour-type's grid
    ("healthy", [lesion(VISIBLE_MM)], "warning"),
    ("metastasis", [], "warning"),
    ("metastasis", [lesion(4)], "ok"),
    ("meningioma", [lesion(30)], "ok"),                      # the detectors outline any enhancing mass
])
def test_one_detector_against_tumour_type(label, lesions, status):
    checks = answer_checks(result(label, mets_3d=lesions))
    assert checks["checks"]["tumour-type_vs_metastasis_detection"]["status"] == status
    assert "mets-3d found" in checks["checks"]["tumour-type_vs_metastasis_detection"]["message"]


def test_a_finer_grid_is_held_to_smaller_lesions():
    """A model set reading 1.5 mm voxels (the paper's 128^3 grid) sees a 5 mm lesion; the bundled 4 mm one may not."""
    assert answer_checks(result("healthy", mets_3d=[lesion(5)], grid_mm=1.5))["status"] == "warning"
    assert answer_checks(result("healthy", mets_3d=[lesion(5)]))["status"] == "ok"
    assert answer_checks(result("healthy", mets_3d=[lesion(5)], grid_mm=1.5))["checks"][
        "tumour-type_vs_metastasis_detection"]["threshold"] == 3.0


@pytest.mark.parametrize("gbm_met, tumour_type, status, message", [
    ("GBM", "hgg", "ok", "gbm-met and tumour-type both read hgg"),
    ("metastasis", "metastasis", "ok", "gbm-met and tumour-type both read metastasis"),
    ("GBM", "metastasis", "warning", "gbm-met reads GBM, tumour-type metastasis"),
    ("metastasis", "hgg", "warning", "gbm-met reads metastasis, tumour-type hgg"),
    ("GBM", "meningioma", "warning", "tumour-type reads meningioma: gbm-met, which only tells GBM from metastasis, "
                                     "may not apply"),
])
def test_the_two_classifiers(gbm_met, tumour_type, status, message):
    checks = answer_checks(result(tumour_type, gbm_met=gbm_met))
    assert list(checks["checks"]) == ["gbm-met_vs_tumour-type"]
    assert (checks["status"], checks["checks"]["gbm-met_vs_tumour-type"]["message"]) == (status, message)


def test_no_check_without_two_tasks_that_can_disagree():
    for alone in (result("healthy"), result(gbm_met="GBM", mets_3d=[lesion(20)]), result(mets_3d=[], mets_25d=[])):
        assert answer_checks(alone) == {"status": "ok", "checks": {}}
        assert answer_check_lines(answer_checks(alone)) == []


def test_people_read_the_contradictions(tmp_path, capsys):
    run = result("healthy", gbm_met="GBM", mets_3d=[lesion(20)])
    run["answer_checks"] = answer_checks(run)
    lines = answer_check_lines(run["answer_checks"])
    assert lines == ["answers disagree: tumour-type reads no tumour, but mets-3d found 1 lesion (largest 20 mm)",
                     "answers disagree: tumour-type reads healthy: gbm-met, which only tells GBM from metastasis, "
                     "may not apply"]
    print_run_summary(run, tmp_path)
    assert lines[0] in capsys.readouterr().err
    page = build_report(RunResult(result=run))
    summary = page[page.index("<div class='summary'>"):page.index("</div>", page.index("<div class='summary'>"))]
    assert "href='#answer-checks'" in summary and "reads no tumour" in summary
    assert "<h2 id='answer-checks'>Do the answers agree? warning</h2>" in page
    assert result_row("case", "done", run, 1.0)["answer_checks"] == "warning"

    agreeing = result("hgg", gbm_met="GBM")
    agreeing["answer_checks"] = answer_checks(agreeing)
    assert answer_check_lines(agreeing["answer_checks"]) == ["answers agree"]
    page = build_report(RunResult(result=agreeing))
    assert "Do the answers agree? ok" in page and "href='#answer-checks'" not in page
    assert "answer_checks" not in result_row("case", "done", result("hgg"), 1.0)
