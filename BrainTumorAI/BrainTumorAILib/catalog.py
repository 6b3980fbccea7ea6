"""What each task needs and produces, importable without torch (the Slicer panel reads it).

Adding a task means adding its entry here and its pipeline in `tasks`; the panel, the runner
and the CLI pick it up from this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskInfo:
    name: str
    title: str
    sequences: tuple[str, ...]  # required inputs
    needs_roi: bool
    outputs: tuple[str, ...]  # image kinds written as <task>_<kind>.nii.gz
    geometry_of: str  # the input whose exact geometry the images have


TASK_CATALOG: dict[str, TaskInfo] = {
    info.name: info
    for info in (
        TaskInfo("gbm-met", "Glioblastoma vs solitary metastasis (Shin 2021)", ("t1ce", "t2"), True, ("cam",), "t2"),
        TaskInfo("mets-25d", "Brain metastases, 2.5D GoogLeNet FCN (Grøvik 2020)", ("t1ce", "flair"), False,
                 ("seg", "prob"), "t1ce"),
        TaskInfo("mets-3d", "Brain metastases, 3D DeepMedic with a five-fold vote (Jünger 2021)", ("t1ce",), False,
                 ("seg", "prob"), "t1ce"),
        TaskInfo("tumour-type", "Tumour type, seven classes (Chakrabarty 2021)", ("t1ce",), False, ("cam",), "t1ce"),
    )
}


# How scanners, BraTS and BIDS name the sequences (volume names in the panel, SeriesDescription and
# ProtocolName of a DICOM study). Checked in this order: FLAIR before T2 (t2f, t2-flair) and
# contrast-enhanced T1 before native T1. A sequence token must not sit inside a longer word or
# number (so "t10" or "ht2" do not match).
_BEFORE = r"(?<![a-z0-9])"
_AFTER = r"(?![a-z0-9*])"
SEQUENCE_NAME_PATTERNS = tuple((sequence, re.compile(pattern)) for sequence, pattern in (
    ("flair", _BEFORE + r"(?:flair|t2[-_ ]?f)" + _AFTER),
    ("t1ce", _BEFORE + r"(?:t1w?[-_ ]?(?:\+[-_ ]?c|\+[-_ ]?gd|ce|c|gd|post|contrast)"
                       r"|ce-[a-z0-9]+_(?:[a-z0-9-]+_)*t1w)" + _AFTER),
    ("t2", _BEFORE + r"t2w?" + _AFTER),
    ("t1", _BEFORE + r"t1[nw]?" + _AFTER),
))


def find_sequence_token(name: str) -> tuple[str, tuple[int, int]] | None:
    """The sequence a name announces and the span of its token, or None."""
    lowered = name.lower()
    for sequence, pattern in SEQUENCE_NAME_PATTERNS:
        match = pattern.search(lowered)
        if match:
            return sequence, match.span()
    return None


def sequence_of_name(name: str) -> str | None:
    """The sequence a volume or series name announces (t1ce, t2, flair or t1), or None.

    Understands BraTS 2021/2023 suffixes (t1ce/t1c, t2/t2w, flair/t2f, t1/t1n), scanner-style
    names (T1+C, T1_Gd, T1 post contrast, T2 FLAIR) and BIDS contrast entities (ce-gd_T1w).
    """
    found = find_sequence_token(name)
    return found[0] if found else None
