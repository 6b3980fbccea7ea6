"""The quality block where people read it: the terminal summary and the report's section."""

from BrainTumorAILib.report.html import build_report
from BrainTumorAILib.report.text import print_run_summary, quality_lines
from BrainTumorAILib.runner import RunResult

QUALITY = {
    "status": "unreliable", "thresholds_file": None,
    "sequences": {"t2": {"status": "failed", "checks": {
        "coregistration": {"status": "failed", "value": 0.05, "threshold": 0.15,
                           "message": "t2 and t1ce are unlikely to be the same head, aligned"}}}},
    "tasks": {
        "gbm-met": {"status": "unreliable", "checks": {
            "t2_input": {"status": "unreliable", "value": 0.05, "threshold": 0.15,
                         "message": "t2 and t1ce are unlikely to be the same head, aligned"},
            "t2_slice_mm": {"status": "ok", "value": 5.0, "threshold": 6.0, "message": "t2 slice thickness 5.0 mm"}}},
        "tumour-type": {"status": "ok", "checks": {
            "t1ce_slice_mm": {"status": "ok", "value": 1.0, "threshold": 6.0, "message": "t1ce slice thickness 1.0 mm"}}},
    },
}
RESULT = {"tasks": {"gbm-met": {"label": "GBM", "predictive_index": 0.99, "cutoff": 0.5}}, "models": {},
          "notes": [], "timings_s": {}, "inputs": {}, "quality": QUALITY}


def test_the_terminal_names_each_unreliable_task_and_why(tmp_path, capsys):
    assert quality_lines(QUALITY) == ["input quality: unreliable",
                                      "  gbm-met UNRELIABLE: t2 and t1ce are unlikely to be the same head, aligned"]
    assert quality_lines(None) == []
    print_run_summary(RESULT, tmp_path)
    printed = capsys.readouterr().err
    assert printed.index("gbm-met: GBM") < printed.index("gbm-met UNRELIABLE")


def test_the_report_has_a_quality_section_problems_first_and_a_summary_warning():
    page = build_report(RunResult(result=RESULT))
    section = page[page.index("<h2 id='quality'>Input quality: unreliable</h2>"):]
    assert section.index("unlikely to be the same head") < section.index("t2 slice thickness 5.0 mm")
    assert "<td class='num'>0.05</td><td class='num'>0.15</td>" in section
    assert "BrainTumorAILib/quality/thresholds.py" in section
    summary = page[page.index("<div class='summary'>"):page.index("<h2 id='quality'>")]
    assert "gbm-met UNRELIABLE" in summary
    assert "Input quality" not in build_report(RunResult(result={**RESULT, "quality": None}))
