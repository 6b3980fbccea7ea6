"""Image grids in physical (LPS) space: geometry records, isotropic grids, bounding boxes."""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

from ..image import LPS_RAS_FLIP


def geometry(image: sitk.Image) -> dict:
    """Size, spacing, origin and direction (row-major 3x3) of an image, JSON-ready, LPS."""
    return {
        "size": [int(v) for v in image.GetSize()],
        "spacing": [float(v) for v in image.GetSpacing()],
        "origin": [float(v) for v in image.GetOrigin()],
        "direction": [float(v) for v in image.GetDirection()],
    }


def empty_image(geom: dict, pixel_type=sitk.sitkUInt8) -> sitk.Image:
    """A zero image with the given geometry (a resampling target)."""
    image = sitk.Image([int(v) for v in geom["size"]], pixel_type)
    image.SetSpacing([float(v) for v in geom["spacing"]])
    image.SetOrigin([float(v) for v in geom["origin"]])
    image.SetDirection([float(v) for v in geom["direction"]])
    return image


def isotropic_grid(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """An empty grid with `spacing_mm` voxels, the image's direction, covering its field of view.

    The field of view is the box spanned by the voxel edges; the new grid is centred on it and
    has whole voxels, so it overhangs by less than one new voxel per axis.
    """
    size = np.array(image.GetSize())
    spacing = np.array(image.GetSpacing())
    extent = size * spacing
    new_size = np.maximum(1, np.ceil(extent / spacing_mm - 1e-3)).astype(int)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    centre_index_mm = (size - 1) / 2 * spacing
    offset = centre_index_mm - (new_size - 1) / 2 * spacing_mm
    origin = np.array(image.GetOrigin()) + direction @ offset
    return empty_image({
        "size": new_size.tolist(), "spacing": [spacing_mm] * 3,
        "origin": origin.tolist(), "direction": direction.ravel().tolist(),
    })


def axis_aligned_grid(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """An empty grid with RAS-aligned axes (LPS direction diag(-1, -1, 1)) covering the image."""
    low, high = bounding_box(image)
    direction = LPS_RAS_FLIP
    new_size = np.maximum(1, np.ceil((high - low) / spacing_mm)).astype(int)
    centre = (low + high) / 2
    origin = centre - direction @ ((new_size - 1) / 2 * spacing_mm)
    return empty_image({
        "size": new_size.tolist(), "spacing": [spacing_mm] * 3,
        "origin": origin.tolist(), "direction": direction.ravel().tolist(),
    })


def shrink_factors(image: sitk.Image, spacing_mm: float) -> list[int]:
    """Integer per-axis factors that bring the image's spacing near `spacing_mm` (never below 1)."""
    return [max(1, int(round(spacing_mm / spacing))) for spacing in image.GetSpacing()]


def corners(image: sitk.Image) -> np.ndarray:
    """The 8 corners (LPS mm) of the box spanned by the voxel edges."""
    size = np.array(image.GetSize())
    return np.array([
        image.TransformContinuousIndexToPhysicalPoint([float(v) for v in np.array(c) * size - 0.5])
        for c in itertools.product((0, 1), repeat=3)
    ])


def bounding_box(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned physical bounding box (low, high corners, LPS mm) of an image's field of view."""
    points = corners(image)
    return points.min(axis=0), points.max(axis=0)


def overlap_fraction(a: sitk.Image, b: sitk.Image) -> float:
    """Volume of the intersection of two physical bounding boxes over the smaller box's volume."""
    low_a, high_a = bounding_box(a)
    low_b, high_b = bounding_box(b)
    inter = np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0, None)
    smaller = min(np.prod(high_a - low_a), np.prod(high_b - low_b))
    return float(np.prod(inter) / smaller)


def axial_axis(image: sitk.Image) -> int:
    """The NumPy axis (of a (z, y, x) array) whose index direction is closest to superior-inferior."""
    direction = np.array(image.GetDirection()).reshape(3, 3)
    index_axis = int(np.argmax(np.abs(direction[2])))  # column k: physical direction of index k
    return 2 - index_axis


def physical_points(image: sitk.Image, mask: np.ndarray) -> np.ndarray:
    """LPS coordinates (N, 3) of the voxels where a (z, y, x) boolean mask is set."""
    zyx = np.argwhere(mask)
    ijk = zyx[:, ::-1].astype(float)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    return np.array(image.GetOrigin()) + (ijk * np.array(image.GetSpacing())) @ direction.T
