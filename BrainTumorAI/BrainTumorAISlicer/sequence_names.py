"""Recognise MRI sequences from volume names, as BraTS and scanners name them, to fill the selectors."""

from __future__ import annotations

import re

# Checked in this order: FLAIR before T2 (t2f, t2-flair) and contrast-enhanced T1 before native T1.
# A sequence token must not sit inside a longer word or number (so "t10" or "ht2" do not match).
_BEFORE = r"(?<![a-z0-9])"
_AFTER = r"(?![a-z0-9*])"
_PATTERNS = (
    ("flair", re.compile(_BEFORE + r"(?:flair|t2[-_ ]?f)" + _AFTER)),
    ("t1ce", re.compile(_BEFORE + r"(?:t1w?[-_ ]?(?:\+[-_ ]?c|\+[-_ ]?gd|ce|c|gd|post|contrast)"
                                  r"|ce-[a-z0-9]+_(?:[a-z0-9-]+_)*t1w)" + _AFTER)),
    ("t2", re.compile(_BEFORE + r"t2w?" + _AFTER)),
    ("t1", re.compile(_BEFORE + r"t1[nw]?" + _AFTER)),
)
_SEPARATORS = " _-."


def sequence_of_name(name: str) -> str | None:
    """The sequence a volume name announces (t1ce, t2, flair or t1), or None.

    Understands BraTS 2021/2023 suffixes (t1ce/t1c, t2/t2w, flair/t2f, t1/t1n), scanner-style
    names (T1+C, T1_Gd, T1 post contrast, T2 FLAIR) and BIDS contrast entities (ce-gd_T1w).
    """
    found = _find(name)
    return found[0] if found else None


def case_name(name: str) -> str | None:
    """The name without its sequence token and the separators around it ("BraTS-GLI-00001-000-t1c"
    -> "BraTS-GLI-00001-000"), or None when the name announces no sequence."""
    found = _find(name)
    if found is None:
        return None
    start, end = found[1]
    return strip_separators(name[:start], name[end:])


def strip_separators(before: str, after: str) -> str:
    """Join what surrounds a removed token, without the separators left at the seam."""
    before, after = before.rstrip(_SEPARATORS), after.lstrip(_SEPARATORS)
    return f"{before}_{after}" if before and after else before or after


def _find(name: str):
    lowered = name.lower()
    for sequence, pattern in _PATTERNS:
        match = pattern.search(lowered)
        if match:
            return sequence, match.span()
    return None

