"""The case's input volumes from the command line: files, DICOM series folders, or a DICOMweb study.

Whatever came from DICOM keeps its headers (`CaseInputs.sources`), so that the results can be
written back as DICOM objects that reference exactly those series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from ..errors import InputError
from ..image import read_image, validate_image
from .dicomweb import DicomWebServer
from .selection import choose_series, series_override
from .series import DicomSeries, assemble, read_folder

REQUIRED = ("t1ce", "t2")


@dataclass
class CaseInputs:
    images: dict[str, sitk.Image]
    sources: dict[str, DicomSeries] = field(default_factory=dict)  # sequence -> its DICOM series
    case_id: str | None = None


def read_inputs(sequences: dict[str, str | None], dicomweb: str | None = None, study: str | None = None,
                series_uids: list[str] | None = None) -> CaseInputs:
    """Read and validate every sequence before any work starts.

    `sequences`: name -> a file, a DICOM series folder, `series:UID` (with `dicomweb` and `study`)
    or None (with a study: the series named like that sequence, when the study has one)."""
    if study and not dicomweb:
        raise InputError("--study needs --dicomweb URL (the server holding the study)")
    overrides = {name: series_override(value) for name, value in sequences.items() if series_override(value)}
    if overrides and not study:
        raise InputError(f"--{next(iter(overrides))} series:UID needs --dicomweb URL --study UID")
    missing = [name for name in REQUIRED if not sequences.get(name)]
    if missing and not study:
        raise InputError(f"the following arguments are required: --{', --'.join(missing)} "
                         f"(a file or a DICOM series folder; or --dicomweb URL --study UID)")
    inputs = CaseInputs(images={})
    for name, value in sequences.items():
        if value and not series_override(value):
            path = Path(value)
            if path.is_dir():
                inputs.sources[name] = read_folder(path, name, set(series_uids or ()))
                inputs.images[name] = inputs.sources[name].image
                validate_image(inputs.images[name], name)
            else:
                inputs.images[name] = read_image(path, name)
            inputs.case_id = inputs.case_id or path.resolve().parent.name
    if study:
        _read_study(DicomWebServer(dicomweb), study, sequences, overrides, inputs)
        inputs.case_id = study
    return inputs


def _read_study(server: DicomWebServer, study: str, sequences: dict, overrides: dict, inputs: CaseInputs) -> None:
    wanted = tuple(name for name in sequences if name not in inputs.images)
    chosen = choose_series(study, server.series_of_study(study), overrides, wanted,
                           tuple(name for name in REQUIRED if name in wanted))
    for name, uid in chosen.items():
        series = assemble(server.retrieve_series(study, uid), name)
        validate_image(series.image, name)
        inputs.sources[name], inputs.images[name] = series, series.image
