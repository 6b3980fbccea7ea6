"""A metastasis task's answer in words: the verdict line and the report's section."""

from __future__ import annotations

from ...catalog import number
from ...report.markup import pairs
from . import COUNT_MIN_MM3


def verdict(entry: dict) -> str:
    lesions = entry.get("lesions") or []
    n = entry.get("n_lesions", len(lesions))
    volumes = [lesion.get("volume_mm3") or 0.0 for lesion in lesions]
    counted = sum(v >= COUNT_MIN_MM3 for v in volumes)
    text = f"{n} lesion{'s' if n != 1 else ''}"
    if lesions:
        text += f" ({counted} of at least {COUNT_MIN_MM3:g} mm³; total {sum(volumes):.0f} mm³)"
    if entry.get("threshold") is not None:
        text += f", probability threshold {number(entry['threshold'])}"
    if entry.get("lesion_peak") is not None:
        text += f", each peaking at >= {number(entry['lesion_peak'])}"
    if entry.get("extent_threshold") is not None:
        text += f", extent at >= {number(entry['extent_threshold'])}"
    return text


def details(entry: dict) -> str:
    rows = [("Lesions found", entry.get("n_lesions", len(entry.get("lesions") or [])))]
    if entry.get("threshold") is not None:
        rows.append(("Probability threshold", number(entry["threshold"])))
    if entry.get("lesion_peak") is not None:
        rows.append(("Lesions kept when their mean probability peaks at", f">= {number(entry['lesion_peak'])}"))
    if entry.get("extent_threshold") is not None:
        rows.append(("Each lesion reaches where the probability stays", f">= {number(entry['extent_threshold'])}"))
    return pairs(rows)
