"""Rigid/affine transforms as 4x4 matrices (row-major, LPS mm, ITK fixed-to-moving).

A matrix `M` for sequence `s` maps a physical point of the reference input to the same
anatomical point in the input of `s`: `p_s = M @ [p_ref, 1]`. Resampling `s` onto a reference
grid uses `M` as is; mapping a result back onto the input of `s` uses its inverse.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk


def identity() -> np.ndarray:
    return np.eye(4)


def matrix_from_transform(transform: sitk.Transform) -> np.ndarray:
    """The 4x4 matrix of a linear ITK transform (Euler3D, Versor, Similarity, Affine)."""
    linear = sitk.AffineTransform(3)
    linear.SetMatrix(transform.GetMatrix())
    linear.SetTranslation(transform.GetTranslation())
    linear.SetCenter(transform.GetCenter())
    a = np.array(linear.GetMatrix()).reshape(3, 3)
    center = np.array(linear.GetCenter())
    # ITK: y = A (x - c) + t + c, so the offset is t + c - A c.
    matrix = np.eye(4)
    matrix[:3, :3] = a
    matrix[:3, 3] = np.array(linear.GetTranslation()) + center - a @ center
    return matrix


def transform_from_matrix(matrix) -> sitk.AffineTransform:
    """An ITK affine transform (centre at the origin) equal to a 4x4 matrix."""
    matrix = np.asarray(matrix, dtype=float)
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(matrix[:3, :3].ravel().tolist())
    transform.SetTranslation(matrix[:3, 3].tolist())
    return transform


def apply(matrix, points) -> np.ndarray:
    """Map points (N, 3) or one point (3,) through a 4x4 matrix."""
    points = np.asarray(points, dtype=float)
    matrix = np.asarray(matrix, dtype=float)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def rigid_parameters(matrix) -> dict:
    """Rotation angle (degrees) and translation length (mm) of a rigid 4x4 matrix, for reports."""
    matrix = np.asarray(matrix, dtype=float)
    cos_angle = np.clip((np.trace(matrix[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)
    return {
        "rotation_deg": float(np.degrees(np.arccos(cos_angle))),
        "translation_mm": float(np.linalg.norm(matrix[:3, 3])),
    }


def registration_error_mm(estimated, true, points_lps) -> float:
    """Largest distance (mm) between where two transforms send the given points (e.g. brain voxels)."""
    return float(np.max(np.linalg.norm(apply(estimated, points_lps) - apply(true, points_lps), axis=1)))
