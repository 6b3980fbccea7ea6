"""What the images cannot tell: corticosteroid dose, clinical state and the reader's call on
non-target lesions, per study date. The reader enters them (JSON file or command-line options);
nothing here is ever inferred, and a criterion whose category depends on a missing item says
"pending clinical confirmation" and names it."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

STEROIDS = ("none", "decreased", "stable", "increased")  # versus the previous study
CLINICAL_STATUS = ("improved", "stable", "worse")


@dataclass(frozen=True)
class ClinicalState:
    """None means not entered (unknown)."""

    steroids: str | None = None
    clinical_status: str | None = None
    non_target_progression: bool | None = None  # unequivocal progression of non-target lesions, reader's call

    def to_json(self) -> dict:
        return {"steroids": self.steroids, "clinical_status": self.clinical_status,
                "non_target_progression": self.non_target_progression}


def _checked(value, allowed, what: str, date) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InputError(f"{what} for {date} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def clinical_state(entry: dict, date) -> ClinicalState:
    """A ClinicalState from one date's JSON object."""
    unknown = sorted(set(entry) - {"steroids", "clinical_status", "non_target_progression"})
    if unknown:
        raise InputError(f"unknown clinical item {', '.join(unknown)} for {date} "
                         "(use steroids, clinical_status, non_target_progression)")
    progression = entry.get("non_target_progression")
    if progression is not None and not isinstance(progression, bool):
        raise InputError(f"non_target_progression for {date} must be true, false or null")
    return ClinicalState(steroids=_checked(entry.get("steroids"), STEROIDS, "steroids", date),
                         clinical_status=_checked(entry.get("clinical_status"), CLINICAL_STATUS,
                                                  "clinical_status", date),
                         non_target_progression=progression)


def parse_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"study date must be YYYY-MM-DD, got {text!r}") from None


def load_clinical(path: Path | None, steroids: list[str] = (), status: list[str] = ()) -> dict[datetime.date, ClinicalState]:
    """Clinical states by date from a JSON file `{"YYYY-MM-DD": {"steroids": ..., ...}}` and from
    `DATE=VALUE` options (which win over the file)."""
    entries: dict[datetime.date, dict] = {}
    if path is not None:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read the clinical file {path}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise InputError(f"{path} must map study dates to objects of clinical items")
        entries = {parse_date(date): dict(items) for date, items in data.items()}
    for key, options in (("steroids", steroids), ("clinical_status", status)):
        for option in options:
            date, _, value = option.partition("=")
            if not value:
                raise InputError(f"--{key.replace('_', '-')} takes DATE=VALUE, got {option!r}")
            entries.setdefault(parse_date(date), {})[key] = value.strip()
    return {date: clinical_state(items, date) for date, items in entries.items()}
