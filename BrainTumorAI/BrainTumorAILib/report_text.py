"""The verdicts of a run in words: one line a task, for the terminal and the report's summary."""

from __future__ import annotations

import sys
from pathlib import Path

# the contract's tumour-type keys, as a radiologist reads them
CLASS_NAMES = {
    "hgg": "high-grade glioma", "lgg": "low-grade glioma", "metastasis": "metastasis",
    "meningioma": "meningioma", "pituitary": "pituitary adenoma", "schwannoma": "vestibular schwannoma",
    "healthy": "no tumour (healthy)",
}
COUNT_MIN_MM3 = 10.0  # Grøvik 2020 also counts lesions from 10 mm^3 (tasks/lesions.py)


def number(value, spec: str = ".2f", unit: str = "") -> str:
    """A number formatted, or 'n/a' when the result does not carry it."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    return f"{value:{spec}}{unit}"


def class_name(key: str) -> str:
    return CLASS_NAMES.get(key, key)


def _gbm_met(entry: dict) -> str:
    return (f"{entry.get('label', '?')} (predictive index {number(entry.get('predictive_index'))}, "
            f"cut-off {number(entry.get('cutoff'))} from {entry.get('cutoff_source', 'the model set')}, "
            f"{entry.get('n_slices', '?')} axial sections, "
            f"fold agreement {number(entry.get('fold_agreement'), '.0%')})")


def _tumour_type(entry: dict) -> str:
    probabilities = entry.get("probabilities") or {}
    label = entry.get("label")
    top = ", ".join(f"{class_name(k)} {v:.0%}" for k, v in
                    sorted(probabilities.items(), key=lambda kv: -kv[1])[:3])
    return f"{class_name(label) if label else '?'}" + (f" ({top})" if top else "")


def _metastases(entry: dict) -> str:
    lesions = entry.get("lesions") or []
    n = entry.get("n_lesions", len(lesions))
    volumes = [lesion.get("volume_mm3") or 0.0 for lesion in lesions]
    counted = sum(v >= COUNT_MIN_MM3 for v in volumes)
    text = f"{n} lesion{'s' if n != 1 else ''}"
    if lesions:
        text += f" ({counted} of at least {COUNT_MIN_MM3:g} mm³; total {sum(volumes):.0f} mm³)"
    if entry.get("threshold") is not None:
        text += f", probability threshold {number(entry['threshold'])}"
    return text


MAX_PRINTED_LESIONS = 20  # the terminal shows the first ones; lesions.csv and the report hold all
# The contract's lesion table: (key, the report's column title, the terminal's short header, format).
LESION_COLUMNS = (
    ("id", "Lesion", "id", ""), ("volume_mm3", "Volume (mm³)", "volume mm³", ".1f"),
    ("longest_diameter_mm", "Longest diameter (mm)", "diameter mm", ".1f"),
    ("centroid_r", "R (mm)", "R", ".1f"), ("centroid_a", "A (mm)", "A", ".1f"), ("centroid_s", "S (mm)", "S", ".1f"),
    ("max_probability", "Max probability", "max p", ".2f"), ("fold_agreement", "Fold agreement", "folds", ".0%"),
    ("location", "Location", "location", ""),
)


def flat_lesion(lesion: dict) -> dict:
    """A lesion with the flat centroid_r/a/s columns of lesions.csv (result.json has centroid_ras)."""
    if not lesion.get("centroid_ras"):
        return lesion
    return {**lesion, **dict(zip(("centroid_r", "centroid_a", "centroid_s"), lesion["centroid_ras"]))}


def _lesion_text(lesion: dict, key: str, spec: str) -> str:
    """One table cell as text: a number by its format, other values as they are, 'n/a' when absent."""
    value = lesion.get(key)
    if spec:
        return number(value, spec)
    return "n/a" if value is None else str(value)


def lesion_table_lines(lesions: list[dict], limit: int = MAX_PRINTED_LESIONS) -> list[str]:
    """The lesion table as aligned text lines (header first, at most `limit` lesions, the rest
    counted in a last line); empty without lesions."""
    if not lesions:
        return []
    rows = [[short for _, _, short, _ in LESION_COLUMNS]]
    rows += [[_lesion_text(flat_lesion(lesion), key, spec) for key, _, _, spec in LESION_COLUMNS]
             for lesion in lesions[:limit]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LESION_COLUMNS))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    if len(lesions) > limit:
        lines.append(f"... {len(lesions) - limit} more in lesions.csv")
    return lines


VERDICTS = {"gbm-met": _gbm_met, "tumour-type": _tumour_type, "mets-25d": _metastases, "mets-3d": _metastases}


def verdict_line(task: str, entry: dict) -> str:
    """The task's answer in one line; a task without a formatter shows its label if any."""
    if task in VERDICTS:
        return VERDICTS[task](entry)
    return str(entry.get("label", "done"))


def print_run_summary(result: dict, out_dir: Path) -> None:
    """The verdicts in a few lines (stdout stays JSON-only under --progress json: use stderr)."""
    stream = sys.stderr
    for task, entry in result["tasks"].items():
        print(f"{task}: {verdict_line(task, entry)}", file=stream)
        if entry.get("notice"):
            print(f"  {entry['notice']}", file=stream)
        for line in lesion_table_lines(entry.get("lesions") or []):
            print(f"    {line}", file=stream)
    for note in result["notes"]:
        print(f"note: {note}", file=stream)
    print(f"results: {out_dir}/result.json, report: {out_dir}/report.html", file=stream)
