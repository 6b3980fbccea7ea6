"""A later study's T1CE registered rigidly to the baseline's, its residual, and its lesions mapped.

The registration is the preprocessing's (Mattes mutual information after a global orientation
search, `preprocessing.registration`). Its residual is the inverse-consistency error: the later
study is registered back onto the baseline, starting from the inverse and without the search,
and the two transforms composed should give the identity; the RMS distance (mm) by which they
move the baseline's head voxels is reported. It shows how well the optimum is determined; it
cannot see a wrong optimum both directions agree on (the synthetic tests measure that error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..preprocessing.head import coarse_head_mask
from ..preprocessing.registration import RegistrationParameters, register, register_rigid
from ..preprocessing.transforms import apply, matrix_from_transform, rigid_parameters, transform_from_matrix


# Two T1CE of one head: the preprocessing's pyramid stopped at half resolution is enough. Measured on
# the 1 mm demo follow-up (6-7 degrees, 2 studies): max error over the head 0.13-0.14 mm in 7-8 CPU s
# a study, against 0.07-0.08 mm in 11-12 CPU s at full resolution.
FOLLOWUP_REGISTRATION = RegistrationParameters(refine_spacing_mm=None, shrink_factors=(4, 2),
                                               smoothing_mm=(2.0, 1.0), sampling_fraction=(0.1, 0.05))


@dataclass(frozen=True)
class Alignment:
    """`matrix` (4x4 LPS, fixed-to-moving) maps a baseline point to the same anatomy in the study."""

    matrix: np.ndarray
    residual_mm: float
    metric: float

    def to_json(self) -> dict:
        motion = rigid_parameters(self.matrix)
        return {"residual_mm": round(self.residual_mm, 3), "metric": round(self.metric, 5),
                "rotation_deg": round(motion["rotation_deg"], 3), "translation_mm": round(motion["translation_mm"], 3),
                "matrix_lps": [[round(float(v), 9) for v in row] for row in self.matrix]}


BASELINE = Alignment(matrix=np.eye(4), residual_mm=0.0, metric=0.0)


def _euler_from_matrix(matrix: np.ndarray, centre) -> sitk.Euler3DTransform:
    """A rigid ITK transform equal to a 4x4 matrix, rotating about `centre`."""
    transform = sitk.Euler3DTransform()
    transform.SetCenter([float(c) for c in centre])
    transform.SetMatrix(matrix[:3, :3].ravel().tolist(), 1e-5)
    rotation, centre = matrix[:3, :3], np.asarray(centre, dtype=float)
    transform.SetTranslation((matrix[:3, 3] + rotation @ centre - centre).tolist())
    return transform


def _head_points(mask: sitk.Image) -> np.ndarray:
    """Physical points (LPS) of a mask's voxels."""
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(mask))
    return np.array([mask.TransformIndexToPhysicalPoint((int(a), int(b), int(c))) for a, b, c in zip(i, j, k)])


def align(baseline: sitk.Image, study: sitk.Image,
          parameters: RegistrationParameters = FOLLOWUP_REGISTRATION) -> Alignment:
    """Register `study` (a later T1CE) rigidly onto `baseline` (the baseline T1CE)."""
    forward, report = register_rigid(baseline, study, parameters)
    study_mask = coarse_head_mask(sitk.Cast(study, sitk.sitkFloat32))
    inverse = np.linalg.inv(forward)
    centre = _head_points(study_mask).mean(axis=0)
    backward = _euler_from_matrix(inverse, centre)
    register(study, baseline, backward, parameters, study_mask)
    round_trip = matrix_from_transform(backward) @ forward
    points = _head_points(coarse_head_mask(sitk.Cast(baseline, sitk.sitkFloat32)))
    moved = np.linalg.norm(apply(round_trip, points) - points, axis=1)
    return Alignment(matrix=forward, residual_mm=float(np.sqrt(np.mean(moved ** 2))), metric=report["metric"])


def map_labels(labels: sitk.Image, baseline: sitk.Image, to_study: np.ndarray) -> sitk.Image:
    """A study's lesion labels on the baseline's grid (nearest neighbour, physical space)."""
    return sitk.Resample(labels, baseline, transform_from_matrix(to_study), sitk.sitkNearestNeighbor, 0,
                         labels.GetPixelID())
