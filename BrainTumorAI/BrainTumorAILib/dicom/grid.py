"""Results on the source series' own voxel grid, which DICOM objects index frame by frame.

A result image can hold exactly the source's voxels yet list them in another order: a viewer that
stacked the slices the other way round (Slicer writes the volume it loaded from DICOM) flips an
axis. Such an image is reordered by nearest-neighbour resampling, which on coinciding voxel centres
moves values without interpolating; any other grid is refused, never resampled.
"""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from ..image import same_geometry

TOLERANCE_VOXELS = 1e-3


def on_source_grid(image: sitk.Image, source: sitk.Image, what: str) -> sitk.Image:
    """`image` with exactly `source`'s geometry, or ValueError when its voxels are not the source's."""
    if same_geometry(image, source, tol=1e-3):
        return image
    size = np.array(source.GetSize())
    corners = [source.TransformIndexToPhysicalPoint([int(c) for c in corner])
               for corner in itertools.product(*[(0, s - 1) for s in size])]
    indices = np.array([image.TransformPhysicalPointToContinuousIndex(point) for point in corners])
    coincide = (sorted(image.GetSize()) == sorted(source.GetSize())
                and np.abs(indices - np.round(indices)).max() < TOLERANCE_VOXELS
                and np.all(np.round(indices) >= 0) and np.all(np.round(indices) <= np.array(image.GetSize()) - 1))
    if not coincide:
        raise ValueError(f"{what} is not on the grid of its source series")
    return sitk.Resample(image, source, sitk.Transform(), sitk.sitkNearestNeighbor, 0, image.GetPixelID())
