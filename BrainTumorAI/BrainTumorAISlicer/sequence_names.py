"""Recognise MRI sequences from volume names, as BraTS and scanners name them, to fill the selectors.

The vocabulary lives in the core's catalog (DICOM series selection uses the same words)."""

from __future__ import annotations

from BrainTumorAILib.catalog import find_sequence_token, sequence_of_name

__all__ = ["case_name", "sequence_of_name", "strip_separators"]

_SEPARATORS = " _-."


def case_name(name: str) -> str | None:
    """The name without its sequence token and the separators around it ("BraTS-GLI-00001-000-t1c"
    -> "BraTS-GLI-00001-000"), or None when the name announces no sequence."""
    found = find_sequence_token(name)
    if found is None:
        return None
    start, end = found[1]
    return strip_separators(name[:start], name[end:])


def strip_separators(before: str, after: str) -> str:
    """Join what surrounds a removed token, without the separators left at the seam."""
    before, after = before.rstrip(_SEPARATORS), after.lstrip(_SEPARATORS)
    return f"{before}_{after}" if before and after else before or after
