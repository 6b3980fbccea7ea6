"""Volume inputs for the voxel and lesion metrics: NumPy arrays with a spacing, or SimpleITK images.

Only the voxel volume (the product of the spacings, in mm^3) enters the metrics, so a spacing
given in (x, y, z) or in array (z, y, x) order gives the same result.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..image import same_geometry


def as_array(volume, name: str) -> np.ndarray:
    """The voxel array of an image or array, checked to be 3D and finite."""
    array = sitk.GetArrayFromImage(volume) if isinstance(volume, sitk.Image) else np.asarray(volume)
    if array.ndim != 3:
        raise InputError(f"{name}: expected a 3D volume, got {array.ndim}D")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"{name}: volume contains NaN or infinite values")
    return array


def paired_arrays(prediction, truth, spacing=None) -> tuple[np.ndarray, np.ndarray, float]:
    """Prediction and truth arrays on the same grid, and the voxel volume in mm^3.

    Images carry their spacing and must share their geometry; arrays need `spacing`.
    """
    if isinstance(prediction, sitk.Image) and isinstance(truth, sitk.Image):
        if not same_geometry(prediction, truth):
            raise InputError("prediction and truth do not share size, spacing, origin and direction")
    images = [volume for volume in (truth, prediction) if isinstance(volume, sitk.Image)]
    if images:
        if spacing is not None and not np.allclose(np.prod(spacing), np.prod(images[0].GetSpacing())):
            raise InputError(f"spacing {list(spacing)} contradicts the image spacing {images[0].GetSpacing()}")
        spacing = images[0].GetSpacing()
    if spacing is None:
        raise InputError("voxel spacing (mm) is required for arrays")
    spacing = np.asarray(spacing, dtype=float)
    if spacing.shape != (3,) or not np.all(spacing > 0):
        raise InputError(f"spacing must be three positive numbers (mm), got {spacing.tolist()}")
    pred_array, truth_array = as_array(prediction, "prediction"), as_array(truth, "truth")
    if pred_array.shape != truth_array.shape:
        raise InputError(f"prediction {pred_array.shape} and truth {truth_array.shape} differ in shape")
    return pred_array, truth_array, float(np.prod(spacing))
