"""The patient's axial sections through a (possibly rotated) ROI, in physical space (Shin 2021).

Shin 2021 classified the axial sections of a clinical 2D T2 (about 11 per patient) and took
the fraction voted GBM as the predictive index. The sections are therefore axial whatever the
acquisition plane:
- the T2's own sections when it is an axial 2D acquisition (slice normal within
  AXIAL_TOLERANCE_DEG of superior-inferior, slices at least THICK_SLICE_MM apart);
- otherwise (sagittal or coronal 2D, 3D isotropic) axial sections SECTION_SPACING_MM apart,
  centred on the ROI.
Each section is sampled on its own in-plane grid, `input_size` pixels a side: spanning the ROI's
footprint (Shin 2021 resized each ROI to the network input), or, with `pixel_mm`, square pixels
of that size centred on the ROI, so the lesion's physical size reaches the network (a footprint
wider than the grid is fitted to it); pixels whose centres lie outside the ROI as drawn are set
to OUTSIDE_VALUE, so nothing outside the box reaches the network or the activation map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ...image import lps_to_ras, ras_to_lps
from ...preprocessing import resample
from ...preprocessing.grid import empty_image
from ...roi import BoxROI

AXIAL_TOLERANCE_DEG = 20.0
THICK_SLICE_MM = 2.5
SECTION_SPACING_MM = 5.0
OUTSIDE_VALUE = 0.0
SUPERIOR_LPS = np.array([0.0, 0.0, 1.0])
LEFT_LPS = np.array([1.0, 0.0, 0.0])


@dataclass(frozen=True)
class SectionPlan:
    """A stack of parallel sections as one 3D grid: in-plane axes u (towards the patient's left),
    v = n x u (posterior), normal n (superior), as an axial LPS image's index axes; `source` says
    where the section positions came from."""

    grid: sitk.Image        # empty, LPS; index k is the section
    inside: np.ndarray      # bool (k, j, i): the pixel centre lies inside the ROI
    source: str

    @property
    def n_sections(self) -> int:
        return int(self.inside.shape[0])

    def centres_lps(self) -> np.ndarray:
        """Physical centre of each section's plane (k, 3), LPS mm."""
        size = np.array(self.grid.GetSize())
        return np.array([self.grid.TransformContinuousIndexToPhysicalPoint(
            (float((size[0] - 1) / 2), float((size[1] - 1) / 2), float(k))) for k in range(size[2])])

    def normal_lps(self) -> np.ndarray:
        return np.array(self.grid.GetDirection()).reshape(3, 3)[:, 2]


def is_axial_2d(geometry: dict) -> bool:
    """Whether a T2 with this geometry (input_geometry format, LPS) is an axial 2D acquisition."""
    normal = np.array(geometry["direction"], dtype=float).reshape(3, 3)[:, 2]
    tilt = np.degrees(np.arccos(min(1.0, abs(float(normal @ SUPERIOR_LPS)))))
    return tilt <= AXIAL_TOLERANCE_DEG and float(geometry["spacing"][2]) >= THICK_SLICE_MM


def _section_axes(normal: np.ndarray) -> np.ndarray:
    """Columns u, v, n: n points superior, u is the patient's left projected into the plane."""
    normal = normal / np.linalg.norm(normal)
    if normal @ SUPERIOR_LPS < 0:
        normal = -normal
    left = LEFT_LPS - (LEFT_LPS @ normal) * normal
    if np.linalg.norm(left) < 1e-6:  # a plane containing left-right: no axial reading exists
        left = np.cross(np.array([0.0, 1.0, 0.0]), normal)
    u = left / np.linalg.norm(left)
    return np.column_stack([u, np.cross(normal, u), normal])


def _positions(roi_low: float, roi_high: float, first: float, step: float) -> np.ndarray:
    """Section positions along the normal: the lattice first + k * step inside [low, high];
    when the ROI is thinner than one step, the lattice point nearest its middle."""
    k = np.arange(np.ceil((roi_low - first) / step - 1e-9), np.floor((roi_high - first) / step + 1e-9) + 1)
    if k.size == 0:
        k = np.array([np.round(((roi_low + roi_high) / 2 - first) / step)])
    return first + k * step


def plan_sections(roi: BoxROI, t2_geometry: dict, input_size: int, phase: float = 0.0,
                  pixel_mm: float | None = None) -> SectionPlan:
    """The axial sections of `roi` for a T2 of `t2_geometry` (LPS, reference physical space).

    `phase` (a fraction of the section step) shifts the lattice: training uses it to see
    sections at every position a T2 slice can take.
    """
    corners = ras_to_lps(roi.corners_ras())
    if is_axial_2d(t2_geometry):
        direction = np.array(t2_geometry["direction"], dtype=float).reshape(3, 3)
        axes = _section_axes(direction[:, 2])
        slice_origin = np.array(t2_geometry["origin"], dtype=float)
        step = float(t2_geometry["spacing"][2])
        first = float(slice_origin @ axes[:, 2])  # the T2's slice centres lie on this lattice
        source = f"the T2's own axial sections ({step:g} mm apart)"
    else:
        axes = _section_axes(SUPERIOR_LPS)
        step = SECTION_SPACING_MM
        first = float(ras_to_lps(roi.center_ras) @ axes[:, 2])
        source = f"axial sections {step:g} mm apart (the T2 is not an axial 2D acquisition)"
    local = corners @ axes  # corner coordinates along u, v, n
    low, high = local.min(axis=0), local.max(axis=0)
    positions = _positions(low[2], high[2], first + phase * step, step)
    footprint = high[:2] - low[:2]
    if pixel_mm is None:
        pixel = footprint / input_size
        corner = low[:2]
    else:
        pixel = np.full(2, max(float(pixel_mm), float(footprint.max()) / input_size))
        corner = (low[:2] + high[:2]) / 2 - pixel * input_size / 2
    start = np.array([corner[0] + pixel[0] / 2, corner[1] + pixel[1] / 2, positions[0]])
    grid = empty_image({"size": [input_size, input_size, len(positions)],
                        "spacing": [float(pixel[0]), float(pixel[1]), step],
                        "origin": (axes @ start).tolist(), "direction": axes.ravel().tolist()},
                       sitk.sitkFloat32)
    inside = _inside(grid, roi)
    keep = inside.any(axis=(1, 2))
    if not keep.all():  # a rotated ROI may meet an end plane only between pixel centres
        kept = np.flatnonzero(keep)
        grid = empty_image({"size": [input_size, input_size, int(kept.size)],
                            "spacing": list(grid.GetSpacing()),
                            "origin": list(grid.TransformIndexToPhysicalPoint((0, 0, int(kept[0])))),
                            "direction": list(grid.GetDirection())}, sitk.sitkFloat32)
        inside = inside[kept[0]:kept[0] + kept.size]
    return SectionPlan(grid, inside, source)


def _inside(grid: sitk.Image, roi: BoxROI) -> np.ndarray:
    """Pixel centres of `grid` inside the ROI, (k, j, i)."""
    k, j, i = np.indices(sitk.GetArrayViewFromImage(grid).shape)
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float)
    matrix = np.array(grid.GetDirection()).reshape(3, 3) * np.array(grid.GetSpacing())
    points = np.array(grid.GetOrigin()) + index @ matrix.T
    return roi.contains_ras(lps_to_ras(points)).reshape(k.shape)


def sample_sections(images: dict[str, sitk.Image], plan: SectionPlan, channels) -> np.ndarray:
    """The sections of each named image, (k, channel, j, i) float32, OUTSIDE_VALUE outside the ROI."""
    stacks = []
    for name in channels:
        array = sitk.GetArrayFromImage(resample(images[name], plan.grid, default_value=OUTSIDE_VALUE,
                                                pixel_type=sitk.sitkFloat32))
        stacks.append(np.where(plan.inside, array, OUTSIDE_VALUE))
    return np.stack(stacks, axis=1).astype(np.float32)


def to_volume(section_maps: np.ndarray, plan: SectionPlan, reference: sitk.Image, roi: BoxROI) -> sitk.Image:
    """Per-section maps (k, j, i) on the reference grid: linear between sections, zero beyond the
    first and last section's half-step and everywhere outside the ROI (checked per voxel centre)."""
    maps = sitk.GetImageFromArray(np.where(plan.inside, section_maps, 0.0).astype(np.float32))
    maps.CopyInformation(plan.grid)
    volume = sitk.GetArrayFromImage(resample(maps, reference, pixel_type=sitk.sitkFloat32))
    image = sitk.GetImageFromArray(volume * inside_roi(reference, roi))
    image.CopyInformation(reference)
    return image


def inside_roi(image: sitk.Image, roi: BoxROI) -> np.ndarray:
    """float32 (z, y, x): 1 where the voxel centre of `image` lies inside the ROI, else 0."""
    mask = np.zeros(sitk.GetArrayViewFromImage(image).shape, dtype=np.float32)
    box = roi.voxel_box(image)
    sub = sitk.RegionOfInterest(image, [int(v) for v in box.size], [int(v) for v in box.start])
    mask[box.numpy_slices()] = _inside(sub, roi)
    return mask
