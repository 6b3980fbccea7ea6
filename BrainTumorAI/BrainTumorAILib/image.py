"""One image model for the core: SimpleITK images, read, validated and written atomically.

SimpleITK images live in LPS physical space (ITK's convention). Use `lps_to_ras` /
`ras_to_lps` at the boundary with Slicer and in every JSON, which is RAS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import uuid
import zlib
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")

# Flipping x and y converts between LPS and RAS (both directions).
LPS_RAS_FLIP = np.diag([-1.0, -1.0, 1.0])


def lps_to_ras(points) -> np.ndarray:
    """Convert one point (3,) or points (N, 3) from LPS to RAS."""
    return np.asarray(points, dtype=float) @ LPS_RAS_FLIP


ras_to_lps = lps_to_ras  # the same sign flip maps RAS back to LPS


def ijk_to_ras_matrix(image: sitk.Image) -> np.ndarray:
    """The 4x4 matrix from voxel indices (i, j, k) to RAS mm (Slicer's IJKToRAS) of an image."""
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_RAS_FLIP @ np.reshape(image.GetDirection(), (3, 3)) * np.array(image.GetSpacing())
    matrix[:3, 3] = lps_to_ras(image.GetOrigin())
    return matrix


def image_from_nifti(nifti) -> sitk.Image:
    """A nibabel image (RAS affine, (i, j, k) array) as a float32 SimpleITK image (LPS)."""
    affine = np.asarray(nifti.affine, dtype=float)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(nifti.dataobj, dtype=np.float32).transpose(2, 1, 0)))
    image.SetSpacing(spacing.tolist())
    image.SetOrigin((LPS_RAS_FLIP @ affine[:3, 3]).tolist())
    image.SetDirection((LPS_RAS_FLIP @ affine[:3, :3] / spacing).ravel().tolist())
    return image


def has_image_suffix(path: Path) -> bool:
    return str(path).lower().endswith(IMAGE_SUFFIXES)


def read_image(path, name: str = "image") -> sitk.Image:
    """Read a 3D scalar volume (NIfTI, NRRD, MetaImage or a DICOM series folder) and validate it.

    `name` (e.g. "t1ce") is used in error messages. Raises InputError on any problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{name}: file not found: {path}")
    printed: list[str] = []
    try:
        with _native_stderr_collected(printed):
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
                if str(path).lower().endswith(NIFTI_SUFFIXES):
                    _check_nifti_as_stored(path, name)
                image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        detail = " ".join(" ".join(printed).split())
        raise InputError(f"{name}: cannot read {path} (corrupt or unsupported): {itk_reason(exc)}"
                         + (f" ({detail})" if detail else "")) from None
    if "".join(printed).strip():
        logging.getLogger(__name__).warning("%s: reading %s: %s", name, path, " ".join(" ".join(printed).split()))
    validate_image(image, name)
    return image


@contextlib.contextmanager
def _native_stderr_collected(printed: list[str]):
    """Collect what ITK's C++ readers print on file descriptor 2 into `printed`.

    MetaIO reports a truncated file on std::cerr, outside the exception, and ITK prints warnings
    there: collected, they go into the one-line error or a logged warning instead.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            printed.append(sink.read().decode(errors="replace"))


def itk_reason(exc: RuntimeError) -> str:
    """The informative line of an ITK read error, without its source location or object address."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # "Exception thrown in ..." is SimpleITK's location; "Reason: <errno text>" is left over from an
    # earlier system call (MetaImage says "No such file or directory" for a truncated file).
    lines = [line for line in lines if not line.startswith(("Exception thrown in", "Reason:"))]
    if not lines:
        return "unreadable"
    return re.sub(r"^(sitk::ERROR: |ITK ERROR: \w+\(0x[0-9a-fA-F]+\): )", "", lines[-1])


NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _check_nifti_as_stored(path: Path, name: str) -> None:
    """Refuse what ITK 5.4's NIfTI reader hides: it zero-fills a truncated file, reads NaN and inf
    voxels as 0 (fixed only in ITK 6: InsightSoftwareConsortium/ITK#6683) and turns a zero or
    negative pixdim into a plausible spacing. nibabel reads the header and voxels as stored.
    """
    import nibabel
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as stream:
            header = nibabel.Nifti1Header.from_fileobj(stream, check=False)
            if int(header["sizeof_hdr"]) != 348:  # byte order is detected; another size is NIfTI-2
                stream.seek(0)
                header = nibabel.Nifti2Header.from_fileobj(stream, check=False)
            ndim = int(header["dim"][0])
            spacing = np.asarray(header["pixdim"][1:1 + min(max(ndim, 0), 3)], dtype=float)
            if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
                shown = tuple(round(v, 4) for v in spacing.tolist())
                raise InputError(f"{name}: spacing {shown} mm (NIfTI pixdim) must be positive")
            voxels = header.raw_data_from_fileobj(stream)
            finite = not np.issubdtype(voxels.dtype, np.floating) or bool(np.all(np.isfinite(voxels)))
    except InputError:
        raise
    except (OSError, EOFError, ValueError, zlib.error, nibabel.spatialimages.HeaderDataError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{name}: cannot read {path} (corrupt or truncated NIfTI file): {reason}") from None
    if not finite:
        raise InputError(f"{name}: volume contains NaN or infinite values")


def _read_dicom_series(folder: Path, name: str) -> sitk.Image:
    from .dicom.series import read_folder  # slices sorted by position, holes and mixed geometry refused

    return read_folder(folder, name).image


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
