"""The results area's text, from result.json content as the contract defines it."""

from BrainTumorAISlicer.result_summary import NOT_RUN, summarize

RESULT = {
    "tasks": {
        "gbm-met": {"label": "GBM", "predictive_index": 0.8125, "cutoff": 0.5, "n_slices": 14,
                    "cutoff_source": "model set, nested CV"},
        "mets-3d": {"lesions": [{"id": 1}, {"id": 2}, {"id": 3}]},
        "mets-25d": {"lesions": [{"id": 1}]},
        "tumour-type": {"label": "hgg", "probabilities": {"hgg": 0.7, "lgg": 0.05, "metastasis": 0.25}},
    },
    "models": {
        "gbm-met": {"name": "gbm-met-demo", "version": "1.0.0", "demo": True,
                    "notice": "Demo weights trained on synthetic phantoms: not for clinical use."},
        "mets-3d": {"name": "mets-3d-mine", "version": "2.0", "demo": False, "notice": ""},
        "tumour-type": {"name": "tt-demo", "version": "1.0", "demo": True, "notice": ""},
    },
}


def test_each_finding_is_summarised():
    summary = summarize(RESULT)
    assert summary.verdict == "gbm-met: GBM (predictive index 0.81, cut-off 0.50, model set, nested CV)"
    assert summary.probabilities == "tumour-type: hgg — hgg 70%, metastasis 25%, lgg 5%"
    assert summary.lesions == "mets-3d: 3 lesions\nmets-25d: 1 lesion"


def test_model_sets_carry_their_notice_and_demo_sets_always_say_so():
    lines = summarize(RESULT).model_sets.splitlines()
    assert lines[0] == "gbm-met: gbm-met-demo 1.0.0 — Demo weights trained on synthetic phantoms: not for clinical use."
    assert lines[1] == "mets-3d: mets-3d-mine 2.0"
    assert lines[2] == "tumour-type: tt-demo 1.0 — demo weights, not for clinical use"


def test_tasks_that_did_not_run_say_so():
    summary = summarize({"tasks": {"gbm-met": RESULT["tasks"]["gbm-met"]}, "models": {}})
    assert (summary.probabilities, summary.lesions, summary.model_sets) == (NOT_RUN, NOT_RUN, NOT_RUN)


def test_input_quality_names_the_unreliable_tasks_and_their_problems():
    quality = {"status": "unreliable", "tasks": {
        "gbm-met": {"status": "unreliable", "checks": {
            "t2_in_plane_mm": {"status": "unreliable", "value": 10.0, "threshold": 1.5,
                               "message": "t2 in-plane spacing 10.0 mm is coarser than the 1.5 mm gbm-met was built for"},
            "t1ce_input": {"status": "ok", "value": 1.0, "threshold": 0.8, "message": "t1ce: input checks passed"}}},
        "tumour-type": {"status": "ok", "checks": {}}}}
    assert summarize({**RESULT, "quality": quality}).quality == (
        "inputs: unreliable\ngbm-met: UNRELIABLE — t2 in-plane spacing 10.0 mm is coarser than the 1.5 mm "
        "gbm-met was built for")
    assert summarize(RESULT).quality == NOT_RUN


def test_contradicting_answers_are_named():
    checks = {"status": "warning", "checks": {
        "gbm-met_vs_tumour-type": {"status": "warning", "value": "metastasis", "threshold": "hgg",
                                   "message": "gbm-met reads GBM, tumour-type metastasis"}}}
    assert summarize({**RESULT, "answer_checks": checks}).answer_checks == (
        "answers disagree: gbm-met reads GBM, tumour-type metastasis")
    assert summarize(RESULT).answer_checks == NOT_RUN
