"""Acquisition variants for independent test cohorts: another plane, the same anatomy and truth."""

import json

import numpy as np
import SimpleITK as sitk

from BrainTumorAILib.preprocessing.grid import geometry
from BrainTumorAILib.synthetic.case import make_case
from BrainTumorAILib.tasks.gbm_met.sections import is_axial_2d


def test_a_sagittal_2d_t2_variant_is_not_read_as_axial(tmp_path):
    folder = make_case(tmp_path, "metastasis", 3, voxel_mm=4.0, variants={"t2": "sagittal_2d"})
    t2 = sitk.ReadImage(str(folder / "t2.nii.gz"))
    normal = np.array(t2.GetDirection()).reshape(3, 3)[:, 2]
    assert abs(normal[0]) > np.cos(np.deg2rad(21))  # through-plane axis along left-right, tilted <= 20 degrees
    assert t2.GetSpacing()[2] > 2 * t2.GetSpacing()[0]  # thick 2D slices
    assert not is_axial_2d(geometry(t2))
    truth = json.loads((folder / "truth.json").read_text())
    assert truth["sequences"]["t2"]["acquisition"] == "2D"
    seg = sitk.ReadImage(str(folder / "truth" / "seg_t2.nii.gz"))
    assert seg.GetDirection() == t2.GetDirection() and sitk.GetArrayViewFromImage(seg).any()
    # the T1CE keeps the default near-axial 3D protocol
    t1ce = sitk.ReadImage(str(folder / "t1ce.nii.gz"))
    assert abs(np.array(t1ce.GetDirection()).reshape(3, 3)[2, 2]) > np.cos(np.deg2rad(7))
