"""Write a run's results as DICOM objects on its source series, and store them on a DICOMweb server.

Files (the contract): `<task>_seg.dcm` per segmentation task that found lesions, `<task>_cam.dcm`
(Parametric Map) per activation map, and `report_sr.dcm` (TID 1500) over all of them. Every object
takes patient, study and frame of reference from the source series it references (highdicom copies
them); only new series and instance UIDs are made.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import SimpleITK as sitk

from ..catalog import task_specs
from ..errors import InputError
from ..outputs import staged_output
from . import codes
from .parametric_map import write_parametric_map
from .seg_writer import write_segmentation
from .series import DicomSeries
from .sr_writer import write_report

FIRST_SERIES_NUMBER = 9001  # after the scanner's series numbers
REPORT_FILE = "report_sr.dcm"


def require_dicom_sources(sources: dict[str, DicomSeries], option: str = "--dicom-out") -> None:
    """DICOM output references the source series: T1CE and T2 must have come from DICOM."""
    missing = [name for name in ("t1ce", "t2") if name not in sources]
    if missing:
        raise InputError(f"{option} needs the {' and '.join(missing)} input(s) as DICOM (a DICOM series folder "
                         f"or --dicomweb URL --study UID): the objects reference the source series")


def build_objects(result: dict, images: dict[str, sitk.Image], sources: dict[str, DicomSeries]) -> dict:
    """File name -> highdicom object for everything the run found (see the module docstring)."""
    require_dicom_sources(sources)
    models = result.get("models", {})
    objects, segmentations = {}, {}
    number = FIRST_SERIES_NUMBER
    for task, answer in result["tasks"].items():
        spec = task_specs().get(task)
        source = sources[spec.geometry_of if spec else "t1ce"]
        seg_name, cam_name = f"{task}_seg.nii.gz", f"{task}_cam.nii.gz"
        if seg_name in images and "lesions" in answer:
            segmentation = write_segmentation(task, images[seg_name], answer["lesions"], models.get(task), source,
                                              number)
            if segmentation is not None:
                objects[f"{task}_seg.dcm"] = segmentations[task] = segmentation
                number += 1
        if cam_name in images:
            objects[f"{task}_cam.dcm"] = write_parametric_map(task, images[cam_name], models.get(task), source, number)
            number += 1
    evidence = [dataset for series in sources.values() for dataset in series.datasets] + list(objects.values())
    objects[REPORT_FILE] = write_report(result, segmentations, sources, evidence, number)
    for dataset in objects.values():
        dataset.CodingSchemeIdentificationSequence = codes.private_scheme_identification()
    return objects


def export_dicom(result: dict, images: dict[str, sitk.Image], sources: dict[str, DicomSeries], out_dir,
                 server=None) -> dict:
    """Write the objects into `out_dir` (all or nothing) and, given a DicomWebServer, store them
    there; returns {"files": [...], "seconds": ...}. The files stay when storing fails."""
    start = time.perf_counter()
    objects = build_objects(result, images, sources)
    with staged_output(out_dir) as staging:
        for name, dataset in objects.items():
            dataset.save_as(staging / name, enforce_file_format=True)
    seconds = round(time.perf_counter() - start, 3)
    if server is not None:
        try:
            server.store(list(objects.values()))
        except InputError as error:
            raise InputError(f"{error}; the DICOM objects are kept in {out_dir}") from None
    return {"files": sorted(objects), "seconds": seconds}


def load_run(run_dir) -> tuple[dict, dict[str, sitk.Image]]:
    """result.json and the images of a finished run folder (for exporting an earlier run)."""
    run_dir = Path(run_dir)
    result = json.loads((run_dir / "result.json").read_text())
    images = {path.name: sitk.ReadImage(str(path)) for path in sorted(run_dir.glob("*_*.nii.gz"))}
    return result, images
