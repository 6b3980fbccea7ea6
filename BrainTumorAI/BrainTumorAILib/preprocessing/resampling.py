"""Resampling between input grids and the reference's isotropic grid through 4x4 transforms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..image import same_geometry
from . import grid, transforms

if TYPE_CHECKING:
    from .case import PreprocessedCase

INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor, "bspline": sitk.sitkBSpline}


def resample(image: sitk.Image, target: sitk.Image, matrix=None, interpolator=sitk.sitkLinear,
             pixel_type=None, default_value: float = 0.0) -> sitk.Image:
    """Sample `image` on the grid of `target`; `matrix` maps target points to `image` points."""
    transform = transforms.transform_from_matrix(transforms.identity() if matrix is None else matrix)
    pixel_type = image.GetPixelID() if pixel_type is None else pixel_type
    return sitk.Resample(image, target, transform, interpolator, float(default_value), pixel_type)


def resample_mask(mask: sitk.Image, target: sitk.Image, matrix=None) -> sitk.Image:
    """Map a binary mask through a transform: linear interpolation then 0.5 threshold (smoother
    borders than nearest neighbour when the grids differ in spacing or orientation)."""
    fraction = resample(sitk.Cast(mask > 0, sitk.sitkFloat32), target, matrix, sitk.sitkLinear)
    return sitk.Cast(fraction >= 0.5, sitk.sitkUInt8)


def to_input_grid(image: sitk.Image, case: "PreprocessedCase", interpolator=sitk.sitkLinear,
                  sequence: str | None = None) -> sitk.Image:
    """Map a result on the case's reference grid back onto an input's exact grid.

    `sequence=None` targets the reference input; another sequence name targets that sequence's
    input through the inverse of its transform. Pixel type is kept (use nearest for labels).
    """
    sequence = case.reference if sequence is None else sequence
    if sequence not in case.input_geometry:
        raise InputError(f"no input geometry for sequence '{sequence}' in this preprocessed case")
    if not same_geometry(image, case.brain_mask):
        raise InputError("image to map back is not on the preprocessed reference grid")
    target = grid.empty_image(case.input_geometry[sequence])
    # Input point of `sequence` -> reference input point (inverse of reference -> sequence);
    # the reference grid and the reference input share one physical space.
    to_reference = np.linalg.inv(case.transforms[sequence])
    return resample(image, target, to_reference, interpolator)
