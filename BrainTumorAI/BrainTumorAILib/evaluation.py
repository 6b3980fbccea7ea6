"""`braintumorai evaluate`: a task's statistics from `run` outputs against known truth.

`--pred DIR` holds one `run` output folder per case (named by case id, each with result.json);
`--truth` is a folder of cases or a CSV manifest with labels (as for training).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import InputError
from .metrics import evaluate_binary
from .metrics.plots import plot_confusion_matrix, plot_roc
from .outputs import staged_output
from .training.cases import index_cases


def _task_entry(pred_dir: Path, case_id: str, task: str) -> dict:
    path = pred_dir / case_id / "result.json"
    if not path.is_file():
        raise InputError(f"no prediction for case {case_id}: {path} is missing")
    tasks = json.loads(path.read_text())["tasks"]
    if task not in tasks:
        raise InputError(f"{path} holds no {task} result")
    return tasks[task]


def evaluate_gbm_met(pred_dir: Path, truth, out_dir: Path) -> dict:
    """Patient-level metrics of the predictive index at the cut-off the runs used (Shin 2021)."""
    cases = [c for c in index_cases(truth, label_key="gbm_met_label") if c.label in ("GBM", "metastasis")]
    if not cases:
        raise InputError(f"{truth}: no case labelled GBM or metastasis")
    entries = [_task_entry(pred_dir, c.case_id, "gbm-met") for c in cases]
    cutoffs = {e["cutoff"] for e in entries}
    if len(cutoffs) != 1:
        raise InputError(f"runs used different cut-offs {sorted(cutoffs)}; evaluate runs of one model set")
    truth_labels = np.array([int(c.label == "GBM") for c in cases])
    scores = np.array([e["predictive_index"] for e in entries])
    result = evaluate_binary(truth_labels, scores, cutoffs.pop(), positive_label="GBM", negative_label="metastasis")
    plot_roc(result, out_dir / "roc.png", "gbm-met: predictive index")
    plot_confusion_matrix(result, out_dir / "confusion_matrix.png", f"gbm-met at cut-off {result.threshold:.2f}")
    return {"task": "gbm-met", "n_cases": len(cases), "metrics": result.to_json(),
            "cases": {c.case_id: {"truth": c.label, "predictive_index": e["predictive_index"], "label": e["label"]}
                      for c, e in zip(cases, entries)}}


EVALUATORS = {"gbm-met": evaluate_gbm_met}


def evaluate_command(task: str, pred_dir, truth, out_dir) -> dict:
    if task not in EVALUATORS:
        raise InputError(f"evaluate: unknown task {task} (choose from {', '.join(EVALUATORS)})")
    with staged_output(out_dir) as staging:
        report = EVALUATORS[task](Path(pred_dir), Path(truth), staging)
        (staging / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report
