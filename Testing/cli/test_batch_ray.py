"""`braintumorai batch --ray` on a Ray cluster of two one-CPU nodes on loopback, one of whose
worker processes is killed while it runs a case: Ray retries that case (`max_retries`), every
case ends with exactly one complete output folder, and no staging folder is left behind."""

import csv
import subprocess
import sys
import time

import psutil
import pytest

from BrainTumorAILib.synthetic import make_case

from ray_cluster import LoopbackRayCluster

pytestmark = pytest.mark.ray
CASES = 4
RUN_FILES = {"result.json", "lesions.csv", "report.html", "tumour-type_cam.nii.gz"}


def running_case_process(cluster: LoopbackRayCluster, timeout_s: float = 600.0) -> psutil.Process:
    """A Ray worker process of this cluster while it runs a case (its title is ray::batch_case)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for node in cluster.processes:
            for process in psutil.Process(node.pid).children(recursive=True):
                try:
                    if " ".join(process.cmdline()).startswith("ray::batch_case"):
                        return process
                except psutil.Error:
                    continue
        time.sleep(0.2)
    raise AssertionError("no Ray worker started a case")


def test_a_cohort_survives_a_worker_killed_mid_case(tmp_path):
    pytest.importorskip("ray")
    sources = [make_case(tmp_path / "cases", kind, seed, voxel_mm=3.0) for kind, seed in (("gbm", 41), ("meningioma", 42))]
    manifest = tmp_path / "manifest.csv"
    case_ids = [f"case-{i}" for i in range(CASES)]
    with open(manifest, "w", newline="") as handle:  # T1CE only: tumour-type needs nothing else
        writer = csv.writer(handle)
        writer.writerow(["case_id", "patient_id", "t1ce"])
        writer.writerows([case_id, case_id, sources[i % 2] / "t1ce.nii.gz"] for i, case_id in enumerate(case_ids))
    out = tmp_path / "out"
    with LoopbackRayCluster(nodes=2) as cluster:
        batch = subprocess.Popen(
            [sys.executable, "-m", "BrainTumorAILib", "batch", "--data", str(manifest), "--out", str(out),
             "--tasks", "tumour-type", "--device", "cpu", "--ray", cluster.address, "--progress", "none"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            victim = running_case_process(cluster)
            victim.kill()
            victim.wait(timeout=30)
            stdout, stderr = batch.communicate(timeout=900)
        finally:
            if batch.poll() is None:
                batch.kill()
                batch.communicate()
    assert batch.returncode == 0, stderr
    with open(out / "summary.csv", newline="") as handle:
        rows = {row["case"]: row for row in csv.DictReader(handle)}
    assert list(rows) == case_ids
    assert all(row["status"] == "done" and row["tumour-type"] for row in rows.values()), rows
    assert f"{CASES} cases: {CASES} done" in stdout
    # no staging left; the synthetic cases carry truth, so tumour-type is also evaluated over the cohort
    assert sorted(p.name for p in out.iterdir()) == sorted([*case_ids, "evaluation", "summary.csv"])
    for case_id in case_ids:
        assert {p.name for p in (out / case_id).iterdir()} == RUN_FILES
        assert f'"case": "{case_id}"' in (out / case_id / "result.json").read_text()
