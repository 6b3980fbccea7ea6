"""The deployed model sets on an independent cohort, as `make weights` measures them for the cards:
every case through `run_case`, scored by `evaluate`, the agreed list beside the two methods."""

import json

import pytest

from BrainTumorAILib.models import models_dir
from BrainTumorAILib.synthetic.cohort import cohort_once
from BrainTumorAILib.training.independent_cohort_evaluation import (
    evaluate_runs, make_test_cohort, metastasis_card_metrics, run_deployed,
)

TASKS = ["mets-3d", "mets-25d"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    work = tmp_path_factory.mktemp("independent")
    cohort = make_test_cohort(work / "cohort", ["metastases", "healthy"], 1, seed=991, voxel_mm=2.0,
                              variants=[None])
    runs = run_deployed(TASKS, cohort, models_dir() / "registry.json", work / "runs")
    return cohort, runs, work


def test_each_case_ran_once_with_the_sequences_the_model_sets_read(deployed):
    cohort, runs, _ = deployed
    results = {folder.name: json.loads((folder / "result.json").read_text()) for folder in runs.iterdir()}
    assert len(results) == 2
    for result in results.values():
        assert set(result["tasks"]) == set(TASKS)
        assert set(result["inputs"]) == {"t1ce", "flair"}  # the sets' inputs, not the T2 or T1 of the phantom
        assert result["answer_checks"] == {"status": "ok", "checks": {}}  # no tumour-type or gbm-met to contradict
    stamps = {folder.name: (folder / "result.json").stat().st_mtime_ns for folder in runs.iterdir()}
    run_deployed(TASKS, cohort, models_dir() / "registry.json", runs)  # finished cases are kept, not rerun
    assert stamps == {folder.name: (folder / "result.json").stat().st_mtime_ns for folder in runs.iterdir()}


def test_both_methods_and_their_agreed_list_are_scored_with_confidence_intervals(deployed):
    cohort, runs, work = deployed
    reports = evaluate_runs(TASKS, cohort, runs, work / "stats")
    assert set(reports) == {"mets-3d", "mets-25d", "mets-agreed"}
    for report in reports.values():
        assert report["n_cases"] == 2
    entries = metastasis_card_metrics(reports["mets-3d"], "test cohort")
    names = {entry["name"] for entry in entries}
    assert {"independent_false_positives_per_case", "independent_sensitivity"} <= names
    for entry in entries:
        assert entry["ci"]["low"] <= entry["value"] <= entry["ci"]["high"]
        assert entry["n_cases"] == 2


def test_a_folder_of_another_recipe_is_replaced_whole_never_mixed(tmp_path):
    made = []

    def make(name):
        def write(folder):
            (folder / name).write_text(name)
            made.append(name)
        return write

    cohort_once(tmp_path / "c", {"n": 1}, make("a"))
    cohort_once(tmp_path / "c", {"n": 1}, make("b"))  # same recipe: reused
    assert made == ["a"]
    cohort_once(tmp_path / "c", {"n": 2}, make("b"))  # another recipe: nothing of the old one stays
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if not p.name.startswith(".")) == ["b"]
