"""One DICOM image series -> one SimpleITK image in LPS, with the source headers kept for the writers.

Classic single-frame images (MR, CT) are stacked by their position along the slice normal, never by
file name. The geometry is DICOM's own: the direction's first two columns are ImageOrientationPatient
(row, then column direction), the third the normal (row x column), the origin the first slice's
ImagePositionPatient; both DICOM and ITK use LPS, so nothing is flipped.

Written here rather than left to GDCM (SimpleITK's series reader) because GDCM sorts silently past a
missing slice, a mixed orientation or an uneven spacing and then reports a wrong spacing; a volume
with a hole in it is refused here with one line that names the problem.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from ..errors import InputError

ORIENTATION_TOLERANCE = 1e-4   # direction cosines
POSITION_TOLERANCE_MM = 0.01   # in-plane offset between slices; spacing deviation (with the relative one)
SPACING_RELATIVE_TOLERANCE = 0.01
MISSING_SLICE_RATIO = 1.5      # a gap this many times the usual spacing is a missing slice


@dataclass
class DicomSeries:
    """A series read into an image; `datasets` are its headers (no pixel data) in slice order."""

    image: sitk.Image
    datasets: list
    series_uid: str
    description: str

    @property
    def first(self):
        return self.datasets[0]


def series_label(dataset) -> str:
    """How a series is named in messages and chosen by name: SeriesDescription, else ProtocolName."""
    return str(getattr(dataset, "SeriesDescription", "") or getattr(dataset, "ProtocolName", "") or "")


def read_folder(folder: Path, name: str, series_uids: set[str] | None = None) -> DicomSeries:
    """The one image series in `folder` (searched recursively), or the one whose UID is in
    `series_uids` when the folder holds several. Files that are not DICOM are ignored."""
    groups: dict[str, list] = defaultdict(list)
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        try:
            dataset = pydicom.dcmread(path, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        if "SeriesInstanceUID" in dataset and "ImagePositionPatient" in dataset:
            groups[str(dataset.SeriesInstanceUID)].append((path, dataset))
    if not groups:
        raise InputError(f"{name}: no DICOM image series in folder {folder}")
    if series_uids:
        groups = {uid: files for uid, files in groups.items() if uid in series_uids} or groups
    if len(groups) > 1:
        listed = "; ".join(f"{uid} ({series_label(files[0][1]) or 'no description'}, {len(files)} images)"
                           for uid, files in sorted(groups.items()))
        raise InputError(f"{name}: folder {folder} holds {len(groups)} DICOM series, pick one with "
                         f"--series-uid: {listed}")
    (uid, files), = groups.items()
    return assemble([pydicom.dcmread(path) for path, _ in files], name)


def assemble(datasets: list, name: str) -> DicomSeries:
    """Stack one series' single-frame images (pydicom datasets with pixel data) into an image.

    Raises InputError for several series, multi-frame or colour images, mixed sizes, spacings or
    orientations, slices off the normal (gantry tilt), duplicated or missing slices and uneven spacing.
    """
    if not datasets:
        raise InputError(f"{name}: the DICOM series has no images")
    uids = {str(d.SeriesInstanceUID) for d in datasets}
    if len(uids) > 1:
        raise InputError(f"{name}: images of {len(uids)} series given as one: {', '.join(sorted(uids))}")
    first = datasets[0]
    label = f"{name}: DICOM series {first.SeriesInstanceUID}"
    for dataset in datasets:
        if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
            raise InputError(f"{label} is multi-frame (enhanced); classic single-frame images are needed")
        if int(getattr(dataset, "SamplesPerPixel", 1)) != 1:
            raise InputError(f"{label} has colour images; a grey-level MR series is needed")
        if "ImageOrientationPatient" not in dataset or "PixelSpacing" not in dataset:
            raise InputError(f"{label}: an image lacks ImageOrientationPatient or PixelSpacing")
    if len(datasets) < 2:
        raise InputError(f"{label} has a single slice, a 3D volume is needed")
    _check_same(datasets, lambda d: (int(d.Rows), int(d.Columns)), label, "mixed image sizes")
    _check_same(datasets, lambda d: tuple(float(v) for v in d.PixelSpacing), label, "mixed pixel spacings",
                tolerance=POSITION_TOLERANCE_MM)
    _check_same(datasets, lambda d: tuple(float(v) for v in d.ImageOrientationPatient), label,
                "mixed orientations", tolerance=ORIENTATION_TOLERANCE)

    orientation = np.array([float(v) for v in first.ImageOrientationPatient])
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    positions = np.array([[float(v) for v in d.ImagePositionPatient] for d in datasets])
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    datasets, positions, along = [datasets[i] for i in order], positions[order], along[order]
    off_normal = positions - np.outer(along, normal)
    if np.abs(off_normal - off_normal[0]).max() > POSITION_TOLERANCE_MM:
        raise InputError(f"{label}: slices are not stacked along their normal (gantry tilt or shear)")
    spacing_z = _slice_spacing(np.diff(along), along, label)

    pixel_spacing = [float(v) for v in first.PixelSpacing]  # (between rows, between columns)
    volume = np.stack([_slice_values(d, label) for d in datasets]).astype(np.float32)
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((pixel_spacing[1], pixel_spacing[0], spacing_z))
    image.SetOrigin(tuple(positions[0]))
    image.SetDirection(tuple(np.column_stack([row, column, normal]).ravel()))
    headers = [_without_pixels(d) for d in datasets]
    return DicomSeries(image, headers, str(first.SeriesInstanceUID), series_label(first))


def _check_same(datasets, value, label: str, problem: str, tolerance: float = 0.0) -> None:
    reference = np.asarray(value(datasets[0]), dtype=float)
    for dataset in datasets[1:]:
        other = np.asarray(value(dataset), dtype=float)
        if other.shape != reference.shape or np.abs(other - reference).max() > tolerance:
            raise InputError(f"{label} has {problem} ({tuple(reference.tolist())} and {tuple(other.tolist())})")


def _slice_spacing(gaps: np.ndarray, along: np.ndarray, label: str) -> float:
    """The one spacing between consecutive slices, or InputError naming the duplicate, the hole or
    the unevenness."""
    if np.any(gaps < POSITION_TOLERANCE_MM):
        at = along[1:][gaps < POSITION_TOLERANCE_MM][0]
        raise InputError(f"{label} has two slices at the same position ({at:.2f} mm along the normal)")
    usual = float(np.median(gaps))
    wide = np.flatnonzero(gaps > MISSING_SLICE_RATIO * usual)
    if wide.size:
        i = wide[0]
        missing = sum(int(round(g / usual)) - 1 for g in gaps[wide])
        raise InputError(f"{label} is missing {max(missing, 1)} slice(s): a gap of {gaps[i]:.2f} mm between "
                         f"slices {i + 1} and {i + 2} where the spacing is {usual:.2f} mm")
    if gaps.max() - gaps.min() > max(POSITION_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * usual):
        raise InputError(f"{label} has non-uniform slice spacing ({gaps.min():.3f} to {gaps.max():.3f} mm)")
    return float(gaps.mean())


def _slice_values(dataset, label: str) -> np.ndarray:
    """Stored values through the modality rescale (slope, intercept) when the image has one."""
    try:
        values = dataset.pixel_array.astype(np.float32)
    except (AttributeError, NotImplementedError, RuntimeError, ValueError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise InputError(f"{label}: cannot decode the pixel data of image {dataset.SOPInstanceUID} "
                         f"(transfer syntax {getattr(syntax, 'name', syntax)}): {reason}") from None
    slope = float(getattr(dataset, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(dataset, "RescaleIntercept", 0.0) or 0.0)
    return values * slope + intercept


def _without_pixels(dataset):
    """The header only: the writers reference the images, they never copy their pixels."""
    header = pydicom.Dataset(dataset)  # a shallow copy; the element values are shared, not copied
    header.file_meta = getattr(dataset, "file_meta", pydicom.dataset.FileMetaDataset())
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in header:
            del header[keyword]
    return header
