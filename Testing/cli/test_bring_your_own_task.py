"""A task added from outside the product: the example task folder copied to a temporary place and
registered through the per-user registry; the CLI, the report, the registry and the panel see it."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import make_image

from BrainTumorAILib.catalog import task_specs
from BrainTumorAILib.image import voxel_volume_mm3
from BrainTumorAILib.models.registry import ModelRegistry
from BrainTumorAISlicer import BrainTumorAILogic
from BrainTumorAISlicer.panel_state import panel_task_offers

EXAMPLE = Path(__file__).resolve().parents[2] / "Utilities" / "example_task"


@pytest.fixture
def user_task(tmp_path, monkeypatch):
    """The example copied to tmp_path/task, its model set registered in a per-user registry in tmp_path."""
    shutil.copytree(EXAMPLE, tmp_path / "task", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(tmp_path / "task" / "make_model_set.py"), "--out", tmp_path / "models"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    yield tmp_path
    monkeypatch.undo()
    task_specs(refresh=True)  # forget the user's task for the other tests of this process


def test_the_registered_task_appears_in_the_registry_the_catalog_and_the_panel(user_task):
    [model_set] = ModelRegistry.load().model_sets("bright-volume")
    assert Path(model_set.entry["task_package"]) == user_task / "task" / "brain_volume"
    spec = task_specs(refresh=True)["bright-volume"]
    assert spec.title == "Bright T1CE tissue volume (example task)" and spec.outputs == ("seg",)
    offers, problem = panel_task_offers(BrainTumorAILogic.installed_model_sets)
    assert problem == "" and offers["bright-volume"] == (True, "Model sets: bright-volume-example")


def test_the_command_line_runs_it_into_result_json_and_the_report(user_task):
    t1ce = make_image(size=(24, 28, 10), spacing=(1.2, 0.9, 3.0), seed=3)  # oblique and anisotropic
    sitk.WriteImage(t1ce, str(user_task / "t1ce.nii.gz"))
    sitk.WriteImage(make_image(size=(24, 24, 10), seed=4), str(user_task / "t2.nii.gz"))
    done = subprocess.run([sys.executable, "-m", "BrainTumorAILib", "run", "--t1ce", user_task / "t1ce.nii.gz",
                           "--t2", user_task / "t2.nii.gz", "--tasks", "bright-volume", "--out", user_task / "run"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "bright-volume: " in done.stderr and "ml of bright tissue" in done.stderr
    entry = json.loads((user_task / "run" / "result.json").read_text())["tasks"]["bright-volume"]
    stored = sitk.ReadImage(str(user_task / "t1ce.nii.gz"))  # the image as NIfTI keeps it
    array = sitk.GetArrayFromImage(stored)
    expected_ml = np.count_nonzero(array / array.max() >= 0.6) * voxel_volume_mm3(stored) / 1000
    assert entry["volume_ml"] == pytest.approx(expected_ml, rel=1e-3)
    seg = sitk.ReadImage(str(user_task / "run" / "bright-volume_seg.nii.gz"))
    assert seg.GetSize() == stored.GetSize() and np.allclose(seg.GetDirection(), stored.GetDirection(), atol=1e-5)
    assert np.allclose(seg.GetOrigin(), stored.GetOrigin(), atol=1e-4)
    report = (user_task / "run" / "report.html").read_text()
    assert "Bright T1CE tissue volume (example task)" in report and "ml of bright tissue" in report
