"""gbm-met's answer in words: the verdict line and the report's section."""

from __future__ import annotations

from ...catalog import number
from ...report.markup import pairs


def verdict(entry: dict) -> str:
    return (f"{entry.get('label', '?')} (predictive index {number(entry.get('predictive_index'))}, "
            f"cut-off {number(entry.get('cutoff'))} from {entry.get('cutoff_source', 'the model set')}, "
            f"{entry.get('n_slices', '?')} axial sections, "
            f"fold agreement {number(entry.get('fold_agreement'), '.0%')})")


def details(entry: dict) -> str:
    votes = entry.get("slice_votes") or []
    folds = entry.get("fold_predictive_indices") or []
    index, cutoff = entry.get("predictive_index"), entry.get("cutoff")
    side = ""
    if isinstance(index, (int, float)) and isinstance(cutoff, (int, float)):
        side = "at or above" if index >= cutoff else "below"
    sections = entry.get("sections") or {}
    rows = [("Predictive index", f"{number(index)} ({side} the cut-off {number(cutoff)})" if side else number(index)),
            ("Cut-off from", entry.get("cutoff_source", "the model set (source not recorded)")),
            ("Axial sections in the ROI", entry.get("n_slices", "n/a")),
            ("Sections", sections.get("source", "n/a")),
            ("Sections voted GBM", f"{sum(votes)} of {len(votes)}" if votes else "n/a"),
            ("Fold agreement (mean over slices)", number(entry.get("fold_agreement"), ".0%")),
            ("Predictive index of each fold", ", ".join(number(v) for v in folds) or "n/a")]
    return pairs(rows) + ("<p>Predictive index (Shin 2021) = fraction of the ROI's axial sections the fold "
                          "ensemble votes GBM; GBM when it reaches the cut-off named above.</p>")
