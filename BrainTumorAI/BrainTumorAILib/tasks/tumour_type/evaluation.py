"""`braintumorai evaluate --task tumour-type`: seven-class figures of run outputs (Chakrabarty 2021)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from ...evaluation import task_entry
from ...metrics import evaluate_multiclass
from ...metrics.plots import plot_confusion_matrix, plot_one_vs_rest_roc
from ...training.cases import index_cases
from .method import CLASSES


def evaluate(task: str, pred_dir: Path, truth, out_dir: Path) -> dict:
    """The runs' fold-mean probabilities against the cases' tumour type: confusion matrix,
    accuracy, per-class sensitivity, PPV, NPV and AUC."""
    cases = [c for c in index_cases(truth, label_key="tumour_type") if c.label in CLASSES]
    if not cases:
        raise InputError(f"{truth}: no case labelled with a tumour type ({', '.join(CLASSES)})")
    entries = [task_entry(pred_dir, c.case_id, task) for c in cases]
    probabilities = np.array([[e["probabilities"][name] for name in CLASSES] for e in entries])
    result = evaluate_multiclass([c.label for c in cases], probabilities, CLASSES)
    plot_confusion_matrix(result, out_dir / "confusion_matrix.png",
                          f"tumour-type: {result.n_correct}/{result.n_cases} correct")
    plot_one_vs_rest_roc(result, out_dir / "roc_one_vs_rest.png", "tumour-type: one-vs-rest ROC")
    return {"task": task, "n_cases": len(cases), "metrics": result.to_json(),
            "cases": {c.case_id: {"truth": c.label, "label": e["label"]} for c, e in zip(cases, entries)}}
