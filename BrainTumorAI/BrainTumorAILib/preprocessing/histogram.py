"""Per-axial-slice histogram equalisation (Grøvik 2020, 2.5D input).

scikit-image's `equalize_hist` is used rather than MONAI's `HistogramNormalize`: both would need
a loop over slices, and only scikit-image builds the histogram from a mask, so the air and skull
around the brain do not dominate each slice's histogram.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from skimage.exposure import equalize_hist

from ..image import copy_geometry
from .grid import axial_axis


def equalise_histogram_per_slice(image: sitk.Image, mask: sitk.Image | None = None, bins: int = 256) -> sitk.Image:
    """Equalise each axial slice to [0, 1] (float32, same grid).

    "Axial" is the index axis closest to superior-inferior in physical space, so oblique or
    sagittally stored volumes are handled. With a mask, each slice's histogram comes from the
    mask's voxels and voxels outside it are set to 0; slices without mask voxels, or with one
    value only, become 0.
    """
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    inside = np.ones(array.shape, bool) if mask is None else sitk.GetArrayViewFromImage(mask) > 0
    axis = axial_axis(image)
    out = np.zeros_like(array)
    for index in range(array.shape[axis]):
        take = [slice(None)] * 3
        take[axis] = index
        take = tuple(take)
        slice_values, slice_mask = array[take], inside[take]
        values = slice_values[slice_mask]
        if values.size == 0 or values.min() == values.max():
            continue
        equalised = equalize_hist(slice_values, nbins=bins, mask=slice_mask)
        out[take] = np.where(slice_mask, equalised, 0.0)
    return copy_geometry(out, image)
