"""One image model for the core: SimpleITK images, read, validated and written atomically.

SimpleITK images live in LPS physical space (ITK's convention). Use `lps_to_ras` /
`ras_to_lps` at the boundary with Slicer and in every JSON, which is RAS.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")

# Flipping x and y converts between LPS and RAS (both directions).
_LPS_RAS_FLIP = np.diag([-1.0, -1.0, 1.0])


def lps_to_ras(points) -> np.ndarray:
    """Convert one point (3,) or points (N, 3) from LPS to RAS."""
    return np.asarray(points, dtype=float) @ _LPS_RAS_FLIP


ras_to_lps = lps_to_ras  # the same sign flip maps RAS back to LPS


def has_image_suffix(path: Path) -> bool:
    return str(path).lower().endswith(IMAGE_SUFFIXES)


def read_image(path, name: str = "image") -> sitk.Image:
    """Read a 3D scalar volume (NIfTI, NRRD, MetaImage or a DICOM series folder) and validate it.

    `name` (e.g. "t1ce") is used in error messages. Raises InputError on any problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{name}: file not found: {path}")
    try:
        if path.is_dir():
            image = _read_dicom_series(path, name)
        else:
            if path.stat().st_size == 0:
                raise InputError(f"{name}: file is empty: {path}")
            if not has_image_suffix(path):
                raise InputError(
                    f"{name}: unknown image format '{path.name}' "
                    f"(use NIfTI, NRRD, MetaImage or a DICOM series folder)"
                )
            image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise InputError(f"{name}: cannot read {path} (corrupt or unsupported): {first}") from None
    validate_image(image, name)
    return image


def _read_dicom_series(folder: Path, name: str) -> sitk.Image:
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError(f"{name}: no DICOM series in folder {folder}")
    if len(series) > 1:
        raise InputError(f"{name}: folder {folder} holds {len(series)} DICOM series; give one series a folder")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series[0]))
    return reader.Execute()


def validate_image(image: sitk.Image, name: str = "image") -> None:
    """Raise InputError unless `image` is a finite, 3D, single-component volume with sane geometry."""
    dim = image.GetDimension()
    if dim != 3:
        raise InputError(f"{name}: expected a 3D volume, got a {dim}D image")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{name}: expected one value per voxel, got {image.GetNumberOfComponentsPerPixel()} components"
        )
    size = image.GetSize()
    if min(size) < 2:
        raise InputError(f"{name}: volume of size {size} is 2D (a single slice), a 3D volume is needed")
    spacing = np.array(image.GetSpacing())
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InputError(f"{name}: spacing {tuple(spacing)} must be positive")
    direction = np.array(image.GetDirection()).reshape(3, 3)
    if not np.all(np.isfinite(direction)) or abs(np.linalg.det(direction)) < 1e-3:
        raise InputError(f"{name}: degenerate direction matrix {direction.tolist()}")
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
        raise InputError(f"{name}: direction matrix is not orthonormal (sheared volume)")
    if not np.all(np.isfinite(image.GetOrigin())):
        raise InputError(f"{name}: origin is not finite")
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise InputError(f"{name}: volume contains NaN or infinite values")


SINGLE_FILE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha")


def write_image(image: sitk.Image, path, compress: bool = True) -> Path:
    """Write atomically: a temporary file in the same folder is renamed over `path`.

    Only single-file formats: a detached header (.mhd, .nhdr) names its data file, which a
    rename would break.
    """
    path = Path(path)
    if not str(path).lower().endswith(SINGLE_FILE_SUFFIXES):
        raise ValueError(f"write_image writes single-file formats {SINGLE_FILE_SUFFIXES}, not {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}{suffix}")
    try:
        sitk.WriteImage(image, str(tmp), compress)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def same_geometry(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    """True when size, spacing, origin and direction agree within `tol`."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )


def copy_geometry(array: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """Wrap a (z, y, x) NumPy array as an image with the reference's geometry."""
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(reference)
    return image


def voxel_volume_mm3(image: sitk.Image) -> float:
    return float(np.prod(image.GetSpacing()))
