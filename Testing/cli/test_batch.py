"""`braintumorai batch` in one process: a small 3 mm cohort from a CSV manifest, one broken case.

The batch runs once per module (in this process, through `cli.main`, so the fold-model cache can
be watched); the tests read what it left: per-case `run` folders, summary.csv with the broken
case's error line, the cohort evaluation, and a rerun that skips what is finished.
"""

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import pytest
import SimpleITK as sitk
import torch

from BrainTumorAILib import cli
from BrainTumorAILib.cohort import layout, worker as cohort_worker
from BrainTumorAILib.models import ModelSet
from BrainTumorAILib.models.fold_cache import keep_fold_models
from BrainTumorAILib.synthetic import load_truth, make_case
from BrainTumorAILib.threads import THREAD_VARIABLES

TASKS = "gbm-met,tumour-type"


def batch(*argv) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["batch", *map(str, argv)])
    return status, printed.getvalue()


def summary_rows(out: Path) -> dict:
    with open(out / "summary.csv", newline="") as handle:
        return {row["case"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two labelled 3 mm heads (GBM, solitary metastasis) and a case whose T1CE is not an image."""
    root = tmp_path_factory.mktemp("cohort")
    rows = []
    for kind, seed in (("gbm", 31), ("metastasis", 32)):
        folder = make_case(root / "cases", kind, seed, voxel_mm=3.0)
        truth = load_truth(folder)
        rows.append({"case_id": folder.name, "patient_id": folder.name, "label": truth["gbm_met_label"],
                     "t1ce": folder / "t1ce.nii.gz", "t2": folder / "t2.nii.gz",
                     "roi_ras": ",".join(f"{v:g}" for v in truth["roi_ras_by_sequence"]["t2"])})
    broken = root / "broken"
    broken.mkdir()
    (broken / "t1ce.nii.gz").write_bytes(b"not an image")
    rows.insert(1, {**rows[0], "case_id": "broken-case", "patient_id": "broken", "label": "",
                    "t1ce": broken / "t1ce.nii.gz"})
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest, [row["case_id"] for row in rows]


@pytest.fixture(scope="module")
def thread_settings_restored():
    """The batch worker sets this process's threads and their environment: put them back after."""
    threads, itk_threads = torch.get_num_threads(), sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    with pytest.MonkeyPatch.context() as patch:
        for variable in (*THREAD_VARIABLES, "OMP_WAIT_POLICY"):
            if variable in os.environ:
                patch.setenv(variable, os.environ[variable])
            else:
                patch.delenv(variable, raising=False)
        yield
    torch.set_num_threads(threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(itk_threads)


@pytest.fixture(scope="module")
def first_batch(cohort, tmp_path_factory, thread_settings_restored):
    """The batch run once, counting how often fold weights are read from disk."""
    manifest, _ = cohort
    out = tmp_path_factory.mktemp("batch") / "out"
    loads = []
    original = ModelSet._load_folds

    def counting(self, *args, **kwargs):
        loads.append(self.name)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ModelSet, "_load_folds", counting)
        status, printed = batch("--data", manifest, "--out", out, "--tasks", TASKS, "--device", "cpu",
                                "--threads", 1)
    yield out, status, printed, loads
    keep_fold_models(False)  # the worker's process-wide state must not leak into other tests
    cohort_worker._workers.clear()


def test_every_good_case_gets_a_run_folder_and_a_summary_row(cohort, first_batch):
    _, case_ids = cohort
    out, status, _, _ = first_batch
    assert status == 0
    rows = summary_rows(out)
    assert list(rows) == case_ids  # the manifest's order
    for case_id in (case_ids[0], case_ids[2]):
        row = rows[case_id]
        result = json.loads((out / case_id / "result.json").read_text())
        assert row["status"] == "done" and row["error"] == ""
        assert row["gbm-met"] == result["tasks"]["gbm-met"]["label"]
        assert float(row["gbm-met_predictive_index"]) == pytest.approx(result["tasks"]["gbm-met"]["predictive_index"],
                                                                      abs=1e-4)
        assert row["tumour-type"] == result["tasks"]["tumour-type"]["label"]
        assert float(row["seconds"]) > 0
        assert result["case"] == case_id
        for name in ("gbm-met_cam.nii.gz", "tumour-type_cam.nii.gz", "lesions.csv", "report.html"):
            assert (out / case_id / name).is_file()


def test_a_broken_case_fails_alone_with_its_error_line(cohort, first_batch):
    _, case_ids = cohort
    out, _, printed, _ = first_batch
    row = summary_rows(out)["broken-case"]
    assert row["status"] == "failed"
    assert "t1ce" in row["error"] and "\n" not in row["error"]
    assert not (out / "broken-case").exists()
    assert "broken-case" in printed and "1 failed" in printed
    assert not list(out.glob(".staging-*"))


def test_each_model_set_is_read_once_for_the_whole_cohort(first_batch):
    _, _, _, loads = first_batch
    assert sorted(loads) == sorted(set(loads)) and len(loads) == 2  # gbm-met's and tumour-type's


def test_the_cohort_is_evaluated_against_its_labels(cohort, first_batch):
    out, _, printed, _ = first_batch
    report = json.loads((out / "evaluation" / "gbm-met" / "evaluation.json").read_text())
    assert report["n_cases"] == 2
    assert set(report["cases"]) == {cohort[1][0], cohort[1][2]}
    assert "evaluate gbm-met: 2 cases" in printed


def test_a_rerun_skips_finished_cases_and_retries_the_failed_one(cohort, first_batch):
    manifest, case_ids = cohort
    out, _, _, _ = first_batch
    before = {p: p.stat().st_mtime_ns for p in out.glob("synth-*/*")}
    status, printed = batch("--data", manifest, "--out", out, "--tasks", TASKS, "--device", "cpu")
    assert status == 0
    rows = summary_rows(out)
    assert [rows[c]["status"] for c in case_ids] == ["skipped", "failed", "skipped"]
    assert rows[case_ids[0]]["gbm-met"] and rows[case_ids[2]]["tumour-type"]  # answers read back
    assert {p: p.stat().st_mtime_ns for p in out.glob("synth-*/*")} == before  # untouched
    assert "2 skipped" in printed


def test_a_bad_manifest_is_refused_before_any_work(tmp_path, capfd, thread_settings_restored):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("case_id,patient_id,t1ce\na,a,missing.nii.gz\n")
    capfd.readouterr()
    status = cli.main(["batch", "--data", str(manifest), "--out", str(tmp_path / "out")])
    err = capfd.readouterr().err
    assert status == 2 and err.startswith("error:") and "missing.nii.gz" in err
    assert not (tmp_path / "out").exists()


def test_the_first_finished_attempt_of_a_case_owns_its_folder(tmp_path):
    """Two attempts of one case (a Ray retry whose first worker was only slow): the second to
    finish is discarded whole, and its staging folder with it."""
    attempts = []
    for text in ("first", "second"):
        staging = layout.staging_folder(tmp_path, "case-1")
        staging.mkdir()
        (staging / "result.json").write_text(json.dumps({"tasks": {}, "attempt": text}))
        attempts.append(staging)
    assert layout.publish(attempts[0], tmp_path, "case-1") is True
    assert layout.publish(attempts[1], tmp_path, "case-1") is False
    assert json.loads((tmp_path / "case-1" / "result.json").read_text())["attempt"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case-1"]


def test_a_ray_request_no_node_can_meet_is_refused():
    from BrainTumorAILib.cohort.ray_runner import RayResources, _check_feasible
    from BrainTumorAILib.errors import InputError

    nodes = [{"Alive": True, "Resources": {"CPU": 2.0}}, {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 1.0}}]
    _check_feasible(nodes, RayResources(cpus=2))
    with pytest.raises(InputError, match="--cpus-per-case"):
        _check_feasible(nodes, RayResources(cpus=4))
    with pytest.raises(InputError, match="GPUs"):
        _check_feasible(nodes, RayResources(cpus=1, gpus=1))
