"""Rectangular ROI boxes in RAS mm (axis-aligned or rotated) mapped onto any volume's voxels.

The box is stored in RAS, Slicer's convention; volumes are SimpleITK images (LPS), so every
mapping goes through physical space and works for oblique, anisotropic grids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .image import LPS_RAS_FLIP, lps_to_ras, ras_to_lps



@dataclass(frozen=True)
class VoxelBox:
    """Half-open index ranges (i, j, k order, as SimpleITK indexes) of a box inside a volume."""

    start: tuple[int, int, int]
    stop: tuple[int, int, int]

    @property
    def size(self) -> tuple[int, int, int]:
        return tuple(int(b - a) for a, b in zip(self.start, self.stop))

    def numpy_slices(self) -> tuple[slice, slice, slice]:
        """Slices for a (z, y, x) array from sitk.GetArrayFromImage."""
        return tuple(slice(self.start[d], self.stop[d]) for d in (2, 1, 0))

    @property
    def axial_slices(self) -> range:
        """The slice indices (k, the volume's third index axis) the box covers."""
        return range(self.start[2], self.stop[2])


@dataclass(frozen=True)
class BoxROI:
    """A box: centre (RAS mm), unit axes as the columns of a 3x3 RAS matrix, edge lengths (mm)."""

    center_ras: np.ndarray
    axes_ras: np.ndarray
    size_mm: np.ndarray

    def __post_init__(self):
        size = np.asarray(self.size_mm, dtype=float)
        if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise InputError(f"ROI is empty: its size {size.tolist()} mm must be positive on every axis")
        axes = np.asarray(self.axes_ras, dtype=float)
        if axes.shape != (3, 3) or not np.allclose(axes.T @ axes, np.eye(3), atol=1e-4):
            raise InputError("ROI orientation is not a rotation matrix")
        center = np.asarray(self.center_ras, dtype=float)
        if center.shape != (3,) or not np.all(np.isfinite(center)):
            raise InputError("ROI centre is not a finite 3D point")
        object.__setattr__(self, "center_ras", center)
        object.__setattr__(self, "axes_ras", axes)
        object.__setattr__(self, "size_mm", size)

    @classmethod
    def from_ras_bounds(cls, bounds) -> "BoxROI":
        """Axis-aligned box from (rmin, rmax, amin, amax, smin, smax) in RAS mm."""
        b = np.asarray(bounds, dtype=float)
        if b.shape != (6,) or not np.all(np.isfinite(b)):
            raise InputError("ROI needs six numbers: RMIN,RMAX,AMIN,AMAX,SMIN,SMAX")
        low, high = b[0::2], b[1::2]
        if np.any(high <= low):
            raise InputError(f"ROI is empty: every max must exceed its min, got {b.tolist()}")
        return cls((low + high) / 2, np.eye(3), high - low)

    @classmethod
    def parse_ras_bounds(cls, text: str) -> "BoxROI":
        """Parse the `--roi-ras` value `RMIN,RMAX,AMIN,AMAX,SMIN,SMAX`."""
        try:
            values = [float(v) for v in text.split(",")]
        except ValueError:
            raise InputError(f"--roi-ras: cannot read numbers from '{text}'") from None
        return cls.from_ras_bounds(values)

    @classmethod
    def from_markups_json(cls, path) -> "BoxROI":
        """Read a Slicer Markups ROI file (`.mrk.json`, coordinateSystem RAS or LPS).

        Slicer writes the orientation as a row-major 3x3 matrix whose columns are the box axes,
        expressed in the file's coordinate system.
        """
        path = Path(path)
        try:
            document = json.loads(path.read_text())
            markup = next(m for m in document["markups"] if m.get("type") == "ROI")
            system = markup.get("coordinateSystem", "LPS").upper()
            center = np.asarray(markup["center"], dtype=float)
            size = np.asarray(markup["size"], dtype=float)
            orientation = np.asarray(markup.get("orientation", np.eye(3).ravel()), dtype=float).reshape(3, 3)
        except FileNotFoundError:
            raise InputError(f"ROI file not found: {path}") from None
        except (OSError, ValueError, KeyError, StopIteration, TypeError) as exc:
            raise InputError(f"ROI file {path} is not a Slicer Markups ROI ({type(exc).__name__}: {exc})") from None
        if markup.get("roiType", "Box") != "Box":
            raise InputError(f"ROI file {path}: only box ROIs are supported, got {markup.get('roiType')}")
        if system == "LPS":
            center, orientation = lps_to_ras(center), LPS_RAS_FLIP @ orientation
        elif system != "RAS":
            raise InputError(f"ROI file {path}: unknown coordinateSystem {system}")
        return cls(center, orientation, size)

    def to_markups_json(self, path, coordinate_system: str = "LPS") -> Path:
        """Write the box as a Slicer Markups ROI file that Slicer loads."""
        if coordinate_system == "LPS":
            center, orientation = ras_to_lps(self.center_ras), LPS_RAS_FLIP @ self.axes_ras
        else:
            center, orientation = self.center_ras, self.axes_ras
        markup = {
            "type": "ROI", "coordinateSystem": coordinate_system, "coordinateUnits": "mm",
            "roiType": "Box", "center": center.tolist(), "orientation": orientation.ravel().tolist(),
            "size": self.size_mm.tolist(), "insideOut": False, "controlPoints": [],
        }
        document = {
            "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                       "Resources/Schema/markups-schema-v1.0.3.json#",
            "markups": [markup],
        }
        Path(path).write_text(json.dumps(document, indent=2))
        return Path(path)

    def scaled(self, factors) -> "BoxROI":
        """The same box about the same centre and axes, each edge times its factor (one or three)."""
        return BoxROI(self.center_ras, self.axes_ras, self.size_mm * np.broadcast_to(np.asarray(factors, float), (3,)))

    def corners_ras(self) -> np.ndarray:
        """The eight corners, (8, 3) RAS mm."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
        return self.center_ras + (signs * self.size_mm / 2) @ self.axes_ras.T

    def bounds_ras(self) -> np.ndarray:
        """Axis-aligned RAS bounds (rmin, rmax, amin, amax, smin, smax) enclosing the box."""
        corners = self.corners_ras()
        return np.column_stack([corners.min(0), corners.max(0)]).ravel()

    def contains_ras(self, points_ras) -> np.ndarray:
        """Boolean per point: inside the (possibly rotated) box."""
        local = (np.atleast_2d(points_ras) - self.center_ras) @ self.axes_ras
        return np.all(np.abs(local) <= self.size_mm / 2 + 1e-9, axis=1)

    def voxel_box(self, image: sitk.Image, name: str = "volume") -> VoxelBox:
        """The voxels of `image` whose extent meets the box, clipped to the volume.

        Raises InputError when the box lies entirely outside the volume.
        """
        corners = ras_to_lps(self.corners_ras())
        index = np.array([image.TransformPhysicalPointToContinuousIndex(tuple(map(float, c))) for c in corners])
        low, high = index.min(0), index.max(0)
        # voxel i spans [i - 0.5, i + 0.5] in continuous index space
        start = np.floor(low - 0.5).astype(int) + 1
        stop = np.ceil(high + 0.5).astype(int)
        size = np.array(image.GetSize())
        start, stop = np.clip(start, 0, size), np.clip(stop, 0, size)
        if np.any(stop <= start):
            bounds = np.round(self.bounds_ras(), 1).tolist()
            raise InputError(f"ROI {bounds} (RAS mm) lies outside the {name} volume")
        return VoxelBox(tuple(int(v) for v in start), tuple(int(v) for v in stop))

    def mask(self, image: sitk.Image, name: str = "volume") -> np.ndarray:
        """uint8 (z, y, x) mask of the voxels whose centres lie inside the box (exact for rotations)."""
        box = self.voxel_box(image, name)
        mask = np.zeros(sitk.GetArrayViewFromImage(image).shape, dtype=np.uint8)
        k, j, i = np.meshgrid(*(np.arange(box.start[d], box.stop[d]) for d in (2, 1, 0)), indexing="ij")
        ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float)
        origin = np.array(image.GetOrigin())
        matrix = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
        points_lps = origin + ijk @ matrix.T
        inside = self.contains_ras(lps_to_ras(points_lps))
        mask[box.numpy_slices()] = inside.reshape(k.shape)
        if not mask.any():
            raise InputError(f"ROI covers no voxel centre of the {name} volume (it is thinner than a voxel)")
        return mask

    def to_json(self) -> dict:
        return {
            "center_ras": self.center_ras.tolist(),
            "size_mm": self.size_mm.tolist(),
            "orientation_ras": self.axes_ras.ravel().tolist(),
            "bounds_ras": self.bounds_ras().tolist(),
        }


def load_roi(roi_file=None, roi_ras: str | None = None) -> BoxROI | None:
    """The ROI from a `.mrk.json` file or a `--roi-ras` string; None when neither is given."""
    if roi_file and roi_ras:
        raise InputError("give either --roi or --roi-ras, not both")
    if roi_file:
        return BoxROI.from_markups_json(roi_file)
    if roi_ras:
        return BoxROI.parse_ras_bounds(roi_ras)
    return None
