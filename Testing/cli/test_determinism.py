"""Same inputs, same bits: two CPU runs of one case give identical result.json answers and images.

Before registration ran single-threaded, ITK's threaded Mattes sums moved the transforms by up
to 1e-5 and the gbm-met probabilities and CAMs by up to 3e-4 between runs.
"""

import json

import numpy as np
import SimpleITK as sitk

from BrainTumorAILib.preprocessing import register_rigid
from BrainTumorAILib.synthetic import make_case
from test_cli import main_in_process, private_registry, roi_argument  # noqa: F401 (fixture)


def test_registration_gives_the_same_transform_every_time(tmp_path):
    folder = make_case(tmp_path, "metastases", 4, voxel_mm=3.0)
    t1ce, flair = (sitk.ReadImage(str(folder / f"{name}.nii.gz"), sitk.sitkFloat32) for name in ("t1ce", "flair"))
    first, _ = register_rigid(t1ce, flair)
    for _ in range(2):
        np.testing.assert_array_equal(register_rigid(t1ce, flair)[0], first)


def test_two_runs_give_the_same_bits(private_registry, tmp_path, capfd):
    folder = make_case(tmp_path / "case", "gbm", 12, voxel_mm=3.0)
    roi = json.loads((folder / "truth.json").read_text())["roi_ras_by_sequence"]["t2"]
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / run
        status, _, err_text = main_in_process(
            ["run", "--t1ce", folder / "t1ce.nii.gz", "--t2", folder / "t2.nii.gz", "--out", out, "--tasks", "gbm-met",
             "--device", "cpu", "--roi-ras", roi_argument(roi)], capfd)
        assert status == 0, err_text
        outputs.append(out)
    first, second = (json.loads((out / "result.json").read_text()) for out in outputs)
    assert first["tasks"] == second["tasks"] and first["quality"] == second["quality"]
    images = sorted(p.name for p in outputs[0].glob("*.nii.gz"))
    assert images == sorted(p.name for p in outputs[1].glob("*.nii.gz")) and images
    for name in images:
        a, b = (sitk.GetArrayFromImage(sitk.ReadImage(str(out / name))) for out in outputs)
        np.testing.assert_array_equal(a, b, err_msg=name)
