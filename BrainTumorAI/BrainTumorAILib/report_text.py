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
            f"cut-off {number(entry.get('cutoff'))}, {entry.get('n_slices', '?')} slices, "
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
    for note in result["notes"]:
        print(f"note: {note}", file=stream)
    print(f"results: {out_dir}/result.json, report: {out_dir}/report.html", file=stream)
