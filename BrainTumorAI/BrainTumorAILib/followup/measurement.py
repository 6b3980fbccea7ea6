"""Lesion size as RANO-BM (Lin 2015) and RANO 2.0 (Wen 2023) read it: volume, the longest diameter
on an axial slice, the longest diameter perpendicular to it on the same slice, and their product.

"Axial" is the patient's axial plane in the reference study's physical space (constant S), not
the voxel grid: each lesion is resampled (linear interpolation of its binary mask, level 0.5)
onto a fine axis-aligned grid of that space, so an oblique, anisotropic or re-posed acquisition
is measured like an upright one. The longest diameter is the largest over the axial slices; the
perpendicular one is taken on a slice that reaches it (within a fine pixel), the widest such. The
volume is counted on the lesion's own grid (no resampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist, squareform

from ..image import lps_to_ras
from ..preprocessing.transforms import apply, transform_from_matrix

AXIAL_PIXEL_MM = 0.5  # the fine grid; diameters are then within a pixel of the continuous shape's
IDENTITY_DIRECTION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class LesionSize:
    """One lesion at one study (mm); `axial_s_ras` is the height of the axial slice of its diameters."""

    volume_mm3: float
    longest_diameter_mm: float
    perpendicular_diameter_mm: float
    centroid_ras: tuple[float, float, float]
    axial_s_ras: float

    @property
    def product_mm2(self) -> float:
        return self.longest_diameter_mm * self.perpendicular_diameter_mm


def slice_diameters(points_mm: np.ndarray, pixel_mm: float) -> tuple[float, float]:
    """Longest diameter of a 2D pixel set (N, 2 pixel centres) and the longest chord perpendicular to it.

    Distances between pixel centres fall short of the shape's by one pixel (half a pixel at each
    end), so one pixel is added to both. The perpendicular chord is the largest extent across
    the longest diameter's direction within one pixel-wide strip (a chord, not the projection).
    """
    if len(points_mm) == 0:
        return 0.0, 0.0
    hull_points = points_mm
    if len(points_mm) >= 3:
        try:
            hull_points = points_mm[ConvexHull(points_mm).vertices]
        except QhullError:  # collinear: every point is on the hull
            pass
    if len(hull_points) < 2:
        return pixel_mm, pixel_mm
    distances = squareform(pdist(hull_points))
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    longest = float(distances[i, j])
    axis = (hull_points[j] - hull_points[i]) / longest
    across = np.array([-axis[1], axis[0]])
    along_bins = np.round(points_mm @ axis / pixel_mm).astype(int)
    offsets = points_mm @ across
    order = np.argsort(along_bins, kind="stable")
    _, starts = np.unique(along_bins[order], return_index=True)
    widest = max(np.ptp(chunk) for chunk in np.split(offsets[order], starts[1:]))
    return longest + pixel_mm, float(widest + pixel_mm)


def _reference_box(mask: sitk.Image, to_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LPS bounds, in the reference space, of the mask's non-zero voxels (their outer faces)."""
    array = sitk.GetArrayViewFromImage(mask)
    k, j, i = np.nonzero(array)
    low, high = np.array([i.min(), j.min(), k.min()]) - 0.5, np.array([i.max(), j.max(), k.max()]) + 0.5
    corners = [mask.TransformContinuousIndexToPhysicalPoint([float(c) for c in np.where(bits, high, low)])
               for bits in np.ndindex(2, 2, 2)]
    reference = apply(np.linalg.inv(to_mask), np.array(corners))
    return reference.min(axis=0), reference.max(axis=0)


def axial_mask(mask: sitk.Image, to_mask: np.ndarray, pixel_mm: float = AXIAL_PIXEL_MM) -> sitk.Image:
    """The binary mask resampled onto a fine axis-aligned grid of the reference space (uint8)."""
    low, high = _reference_box(mask, to_mask)
    low, high = low - pixel_mm, high + pixel_mm
    size = [int(np.ceil(extent / pixel_mm)) + 1 for extent in high - low]
    grid = sitk.Image(size, sitk.sitkFloat32)
    grid.SetSpacing([pixel_mm] * 3)
    grid.SetDirection(IDENTITY_DIRECTION)
    grid.SetOrigin(low.tolist())
    fraction = sitk.Resample(sitk.Cast(mask, sitk.sitkFloat32), grid, transform_from_matrix(to_mask),
                             sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.Cast(fraction >= 0.5, sitk.sitkUInt8)


def measure_mask(mask: sitk.Image, to_mask: np.ndarray | None = None, pixel_mm: float = AXIAL_PIXEL_MM) -> LesionSize | None:
    """Size of one lesion given as a binary mask (None when empty).

    `to_mask` (4x4, LPS, ITK's fixed-to-moving) maps a point of the reference space to the same
    anatomy in the mask's space; the identity (default) measures in the mask's own space.
    """
    to_mask = np.eye(4) if to_mask is None else np.asarray(to_mask, dtype=float)
    binary = sitk.Cast(mask > 0, sitk.sitkUInt8)
    count = int(np.count_nonzero(sitk.GetArrayViewFromImage(binary)))
    if count == 0:
        return None
    volume = count * float(np.prod(binary.GetSpacing()))
    fine = axial_mask(binary, to_mask, pixel_mm)
    array = sitk.GetArrayViewFromImage(fine)
    k, j, i = np.nonzero(array)
    if len(k) == 0:  # thinner than half a fine pixel everywhere: keep the voxel's centre
        k, j, i = (np.array([v]) for v in np.array(fine.GetSize())[::-1] // 2)
    origin = np.array(fine.GetOrigin())
    x, y = origin[0] + i * pixel_mm, origin[1] + j * pixel_mm
    slices = np.unique(k)
    diameters = np.array([slice_diameters(np.stack([x[k == z], y[k == z]], axis=1), pixel_mm) for z in slices])
    longest = float(diameters[:, 0].max())
    # Neighbouring slices often reach the longest diameter within a pixel; of those, the one with the
    # largest perpendicular is taken, so a sub-pixel difference cannot swap a very different one in.
    near = np.flatnonzero(diameters[:, 0] >= longest - pixel_mm)
    chosen = near[int(np.argmax(diameters[near, 1]))]
    centroid = np.array([x.mean(), y.mean(), origin[2] + k.mean() * pixel_mm])
    return LesionSize(volume_mm3=volume, longest_diameter_mm=longest,
                      perpendicular_diameter_mm=float(diameters[chosen, 1]),
                      centroid_ras=tuple(float(v) for v in lps_to_ras(centroid)),
                      axial_s_ras=float(origin[2] + slices[chosen] * pixel_mm))


def measure_labels(labels: sitk.Image, to_labels: np.ndarray | None = None,
                   pixel_mm: float = AXIAL_PIXEL_MM) -> dict[int, LesionSize]:
    """Size of every lesion id of a label image, in the reference space that `to_labels` maps from."""
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(sitk.Cast(labels, sitk.sitkUInt32))
    sizes = {}
    for lesion_id in statistics.GetLabels():
        x, y, z, nx, ny, nz = statistics.GetBoundingBox(lesion_id)
        low = [max(0, v - 1) for v in (x, y, z)]
        high = [min(n - 1, v + w) for v, w, n in zip((x, y, z), (nx, ny, nz), labels.GetSize())]
        crop = sitk.RegionOfInterest(labels, [h - l + 1 for l, h in zip(low, high)], low)
        sizes[int(lesion_id)] = measure_mask(crop == lesion_id, to_labels, pixel_mm)
    return sizes
