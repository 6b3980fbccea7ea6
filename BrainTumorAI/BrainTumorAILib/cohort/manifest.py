"""The cohort a batch runs over: the training case index (CSV manifest, BraTS-style or synthetic
case folders) read as the runs' inputs (sequence files and the gbm-met ROI per case)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..training.cases import Case, index_cases


@dataclass(frozen=True)
class CohortCase:
    """One case to run: its id (the output folder's name), sequence files and optional RAS ROI."""

    case_id: str
    sequences: dict[str, Path]
    roi_ras: tuple[float, ...] | None = None

    @classmethod
    def from_case(cls, case: Case) -> "CohortCase":
        roi = tuple(case.roi_ras) if case.roi_ras else None
        return cls(case.case_id, {name: Path(path) for name, path in case.sequences.items()}, roi)


def read_cohort(data) -> list[CohortCase]:
    """The cases of a CSV manifest or folder of cases, in their listed order."""
    cases = [CohortCase.from_case(case) for case in index_cases(data)]
    unsafe = [c.case_id for c in cases if Path(c.case_id).name != c.case_id or c.case_id.startswith(".")]
    if unsafe:  # case ids name output folders: no paths, no hidden names
        raise InputError(f"{data}: case_id must be a plain folder name, got {', '.join(unsafe[:3])}")
    return cases
