"""Which series of a study is which sequence: the series' name (SeriesDescription, else
ProtocolName) read with the panel's BraTS/scanner vocabulary (`catalog.sequence_of_name`), unless a
sequence option names the series (`--t2 series:UID`)."""

from __future__ import annotations

from ..catalog import sequence_of_name
from ..errors import InputError

SERIES_PREFIX = "series:"


def series_override(value: str | None) -> str | None:
    """The UID of a `series:UID` sequence option, else None."""
    if value and value.startswith(SERIES_PREFIX):
        return value[len(SERIES_PREFIX):].strip()
    return None


def _describe(series: dict) -> str:
    return f"{series['uid']} ({series['description'] or series['protocol'] or 'no description'})"


def sequence_of_series(series: dict) -> str | None:
    return sequence_of_name(series["description"] or "") or sequence_of_name(series["protocol"] or "")


def choose_series(study_uid: str, series: list[dict], overrides: dict[str, str], wanted: tuple[str, ...],
                  required: tuple[str, ...]) -> dict[str, str]:
    """Sequence -> series UID for each `wanted` sequence the study has (every `required` one or
    InputError naming the study's series); `overrides` (sequence -> UID) win over names."""
    images = [s for s in series if s["modality"] in ("MR", "")]
    known = {s["uid"] for s in series}
    chosen = {}
    for sequence, uid in overrides.items():
        if uid not in known:
            raise InputError(f"{sequence}: series {uid} is not in study {study_uid}")
        chosen[sequence] = uid
    for sequence in wanted:
        if sequence in chosen:
            continue
        candidates = [s for s in images if sequence_of_series(s) == sequence and s["uid"] not in chosen.values()]
        if len(candidates) > 1:
            raise InputError(f"{sequence}: study {study_uid} has {len(candidates)} series named like {sequence}: "
                             f"{'; '.join(map(_describe, candidates))}; pick one with --{sequence} series:UID")
        if candidates:
            chosen[sequence] = candidates[0]["uid"]
        elif sequence in required:
            listed = "; ".join(map(_describe, series)) or "none"
            raise InputError(f"{sequence}: study {study_uid} has no series named like {sequence} "
                             f"(its series: {listed}); name one with --{sequence} series:UID")
    return chosen
