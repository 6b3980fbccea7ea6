"""Write volumes as classic single-frame MR Image series of one study (a synthetic head for a PACS).

Used to put a synthetic case into a PACS for the round trip (tests, README):

    python -m BrainTumorAILib.dicom.mr_writer CASE_FOLDER OUT_FOLDER

writes one series per `<sequence>.nii.gz` of CASE_FOLDER (a `braintumorai synth` case) under
OUT_FOLDER/<sequence>/, all in one study of one made-up patient. Values are stored as 12-bit
unsigned integers scaled to the volume's range (MR images carry no rescale), which is all a
synthetic phantom needs.
"""

from __future__ import annotations

import argparse
import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from .. import __version__

MAX_STORED = 4095  # 12 bits stored
SEQUENCE_DESCRIPTIONS = {"t1ce": "T1 post contrast", "t2": "T2 TSE", "flair": "T2 FLAIR", "t1": "T1 native"}


@dataclass
class Study:
    """Patient and study attributes shared by every series written."""

    patient_id: str = "SYNTH-0001"
    patient_name: str = "Synthetic^Phantom"
    study_uid: str = field(default_factory=generate_uid)
    frame_of_reference_uid: str = field(default_factory=generate_uid)
    accession_number: str = "BTAI0001"
    date: str = field(default_factory=lambda: datetime.date.today().strftime("%Y%m%d"))


def write_mr_series(image: sitk.Image, folder: Path, study: Study, description: str, series_number: int) -> str:
    """Write `image` as one MR series of `study` into `folder` (one file a slice, in reverse order so
    that nothing can rely on file names); returns the SeriesInstanceUID."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = sitk.GetArrayFromImage(image).astype(np.float64)
    low, high = float(values.min()), float(values.max())
    stored = np.round((values - low) / max(high - low, 1e-12) * MAX_STORED).astype(np.uint16)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    orientation = [round(float(v), 8) for v in (*direction[:, 0], *direction[:, 1])]
    spacing = image.GetSpacing()
    series_uid = generate_uid()
    for k in range(stored.shape[0]):
        dataset = _slice_dataset(study, series_uid, description, series_number, k + 1)
        dataset.ImageOrientationPatient = orientation
        dataset.ImagePositionPatient = [round(v, 6) for v in image.TransformIndexToPhysicalPoint((0, 0, k))]
        dataset.PixelSpacing = [round(spacing[1], 6), round(spacing[0], 6)]
        dataset.SliceThickness = round(spacing[2], 6)
        dataset.SpacingBetweenSlices = round(spacing[2], 6)
        dataset.SliceLocation = round(float(np.dot(dataset.ImagePositionPatient,
                                                   np.cross(direction[:, 0], direction[:, 1]))), 6)
        dataset.Rows, dataset.Columns = stored.shape[1], stored.shape[2]
        dataset.PixelData = stored[k].tobytes()
        dataset.save_as(folder / f"slice{stored.shape[0] - k:04d}.dcm", enforce_file_format=True)
    return series_uid


def _slice_dataset(study: Study, series_uid: str, description: str, series_number: int, number: int):
    dataset = pydicom.Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = MRImageStorage
    dataset.SOPClassUID = MRImageStorage
    dataset.SOPInstanceUID = generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.PatientName, dataset.PatientID = study.patient_name, study.patient_id
    dataset.PatientBirthDate, dataset.PatientSex = "", "O"
    dataset.StudyInstanceUID, dataset.StudyID = study.study_uid, "1"
    dataset.StudyDate, dataset.StudyTime = study.date, "120000"
    dataset.SeriesDate = dataset.ContentDate = study.date
    dataset.SeriesTime = dataset.ContentTime = "120000"
    dataset.AccessionNumber, dataset.ReferringPhysicianName = study.accession_number, ""
    dataset.Modality, dataset.Manufacturer = "MR", "BrainTumorAI synthetic phantom"
    dataset.SoftwareVersions = __version__
    dataset.SeriesInstanceUID, dataset.SeriesNumber = series_uid, series_number
    dataset.SeriesDescription = dataset.ProtocolName = description
    dataset.InstanceNumber = number
    dataset.FrameOfReferenceUID, dataset.PositionReferenceIndicator = study.frame_of_reference_uid, ""
    dataset.PatientPosition, dataset.BodyPartExamined = "HFS", "HEAD"  # unpaired: no Laterality
    dataset.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    dataset.ScanningSequence, dataset.SequenceVariant, dataset.ScanOptions = "SE", "NONE", ""
    dataset.MRAcquisitionType = "2D"
    dataset.RepetitionTime, dataset.EchoTime, dataset.EchoTrainLength = 500, 15, 1
    dataset.MagneticFieldStrength = 3
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 12, 11, 0
    dataset.BurnedInAnnotation = "NO"
    return dataset


def write_case_study(case_folder: Path, out_folder: Path, study: Study | None = None) -> dict[str, str]:
    """Each `<sequence>.nii.gz` of a case folder as a series of one study; returns sequence -> series UID."""
    study = study or Study()
    written = {}
    for number, sequence in enumerate(SEQUENCE_DESCRIPTIONS, start=1):
        path = Path(case_folder) / f"{sequence}.nii.gz"
        if path.is_file():
            written[sequence] = write_mr_series(sitk.ReadImage(str(path)), Path(out_folder) / sequence, study,
                                                SEQUENCE_DESCRIPTIONS[sequence], number)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path, help="folder with <sequence>.nii.gz files")
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    study = Study()
    written = write_case_study(args.case, args.out, study)
    if not written:
        parser.exit(2, f"error: no {', '.join(f'{s}.nii.gz' for s in SEQUENCE_DESCRIPTIONS)} in {args.case}\n")
    for sequence, uid in written.items():
        print(f"{sequence}: series {uid}")
    print(f"study {study.study_uid}")


if __name__ == "__main__":
    main()
