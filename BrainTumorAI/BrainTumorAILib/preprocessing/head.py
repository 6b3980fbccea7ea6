"""Head (non-air) masks by Otsu thresholding: where N4 fits and where registration samples."""

from __future__ import annotations

import SimpleITK as sitk

from .grid import shrink_factors


def head_mask(image: sitk.Image) -> sitk.Image:
    """Head mask on the image's grid: Otsu threshold, largest component, holes filled (uint8)."""
    mask = sitk.OtsuThreshold(image, 0, 1, 200)
    components = sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True)
    largest = sitk.Cast(components == 1, sitk.sitkUInt8)
    return sitk.BinaryFillhole(largest, fullyConnected=False, foregroundValue=1)


def coarse_head_mask(image: sitk.Image, spacing_mm: float = 4.0, margin_voxels: int = 2) -> sitk.Image:
    """Head mask of a ~`spacing_mm` block-averaged copy, dilated by `margin_voxels` so that the
    head's outline stays inside; cheap, and masks work across grids in physical space."""
    coarse = sitk.BinShrink(sitk.Cast(image, sitk.sitkFloat32), shrink_factors(image, spacing_mm))
    return sitk.BinaryDilate(head_mask(coarse), [margin_voxels] * 3)
