"""`braintumorai evaluate --task gbm-met`: patient-level statistics of run outputs (Shin 2021)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from ...evaluation import task_entry
from ...metrics import evaluate_binary
from ...metrics.plots import plot_confusion_matrix, plot_roc
from ...training.cases import index_cases


def evaluate(task: str, pred_dir: Path, truth, out_dir: Path) -> dict:
    """Patient-level metrics of the predictive index at the cut-off the runs used (Shin 2021)."""
    cases = [c for c in index_cases(truth, label_key="gbm_met_label") if c.label in ("GBM", "metastasis")]
    if not cases:
        raise InputError(f"{truth}: no case labelled GBM or metastasis")
    entries = [task_entry(pred_dir, c.case_id, task) for c in cases]
    cutoffs = {e["cutoff"] for e in entries}
    if len(cutoffs) != 1:
        raise InputError(f"runs used different cut-offs {sorted(cutoffs)}; evaluate runs of one model set")
    truth_labels = np.array([int(c.label == "GBM") for c in cases])
    scores = np.array([e["predictive_index"] for e in entries])
    cutoff = cutoffs.pop()
    result = evaluate_binary(truth_labels, scores, cutoff, positive_label="GBM", negative_label="metastasis")
    plot_roc(result, out_dir / "roc.png", "gbm-met: predictive index")
    plot_confusion_matrix(result, out_dir / "confusion_matrix.png", f"gbm-met at cut-off {result.threshold:.2f}")
    return {"task": "gbm-met", "n_cases": len(cases), "metrics": result.to_json(),
            "cutoff_source": entries[0].get("cutoff_source"), "folds": _fold_answers(entries, cutoff),
            "cases": {c.case_id: {"truth": c.label, "predictive_index": e["predictive_index"], "label": e["label"]}
                      for c, e in zip(cases, entries)}}


def _fold_answers(entries: list[dict], cutoff: float) -> list[dict]:
    """Per fold model: how many cases its own predictive index calls GBM at the cut-off, and
    whether it gives one class to every case (a fold that has learnt nothing does)."""
    per_case = np.array([e.get("fold_predictive_indices") or [] for e in entries], dtype=float)
    if per_case.ndim != 2 or per_case.shape[1] == 0:
        return []
    calls = per_case >= cutoff
    return [{"fold": k, "n_called_gbm": int(calls[:, k].sum()), "n_cases": len(entries),
             "one_class_for_every_case": bool(calls[:, k].all() or not calls[:, k].any())}
            for k in range(per_case.shape[1])]
