"""`braintumorai evaluate`: a task's statistics from `run` outputs against known truth.

`--pred DIR` holds one `run` output folder per case (named by case id, each with result.json);
`--truth` is a folder of cases or a CSV manifest with labels (as for training).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .image import read_image
from .metrics import evaluate_binary
from .metrics.plots import plot_confusion_matrix, plot_roc
from .outputs import staged_output
from .tasks.cross_method import AGREED, AGREED_TASK
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


def _agreed_entry(pred_dir: Path, case_id: str) -> dict:
    """The cross-method list (result.json `agreed_lesions`) as a task entry: a mask, no map."""
    path = pred_dir / case_id / "result.json"
    if not path.is_file():
        raise InputError(f"no prediction for case {case_id}: {path} is missing")
    result = json.loads(path.read_text())
    if AGREED not in result:
        raise InputError(f"{path} holds no {AGREED} (run both mets-3d and mets-25d)")
    return {"threshold": 0.5, "min_lesion_mm3": 0.0}


def evaluate_metastases(task: str, pred_dir: Path, truth, out_dir: Path) -> dict:
    """Lesion-wise and voxel statistics of the runs' `<task>_seg` / `<task>_prob` images (the T1CE
    input's grid) against each case's true lesions, at the threshold the runs used: the product's
    own output, so the fold vote (mets-3d) or fold mean (mets-25d) is what is measured. The run
    outputs carry no brain mask, so the voxel statistics count the whole T1CE grid.
    `mets-agreed` scores the cross-method list (`mets-agreed_seg.nii.gz`, a mask without a map)."""
    from .tasks.mets_cases import truth_image
    from .tasks.mets_evaluation import evaluate_case, summarise_cases

    cases = [c for c in index_cases(truth, label_key="tumour_type") if c.truth is not None or c.seg is not None]
    if not cases:
        raise InputError(f"{truth}: no case with a lesion segmentation")
    predictions, thresholds = {}, set()
    for case in cases:
        entry = _agreed_entry(pred_dir, case.case_id) if task == AGREED_TASK else _task_entry(pred_dir, case.case_id, task)
        thresholds.add(entry["threshold"])
        seg = read_image(pred_dir / case.case_id / f"{task}_seg.nii.gz", f"{case.case_id} {task} segmentation")
        probability = (sitk.GetArrayFromImage(seg) > 0).astype(np.float32) if task == AGREED_TASK else \
            sitk.GetArrayFromImage(read_image(pred_dir / case.case_id / f"{task}_prob.nii.gz",
                                              f"{case.case_id} {task} probability"))
        # the truth's own grid may differ from the T1CE's: nearest neighbour in physical space
        truth_mask = sitk.GetArrayFromImage(sitk.Resample(truth_image(case), seg, sitk.Transform(),
                                                          sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
        predictions[case.case_id] = evaluate_case(probability, sitk.GetArrayFromImage(seg) > 0, truth_mask,
                                                  np.ones_like(truth_mask), seg.GetSpacing()[::-1],
                                                  entry["threshold"], case.case_id, entry.get("min_lesion_mm3", 3.0))
    if len(thresholds) != 1:
        raise InputError(f"runs used different thresholds {sorted(thresholds)}; evaluate runs of one model set")
    ids = [c.case_id for c in cases]
    metrics = summarise_cases(predictions, ids, out_dir, task, thresholds.pop())
    return {"task": task, "n_cases": len(cases), "metrics": metrics,
            "cases": {i: {k: v for k, v in predictions[i]["detection"].items() if k != "lesions"} for i in ids}}


EVALUATORS = {"gbm-met": evaluate_gbm_met,
              "mets-25d": lambda *args: evaluate_metastases("mets-25d", *args),
              "mets-3d": lambda *args: evaluate_metastases("mets-3d", *args),
              AGREED_TASK: lambda *args: evaluate_metastases(AGREED_TASK, *args)}


def evaluate_command(task: str, pred_dir, truth, out_dir) -> dict:
    if task not in EVALUATORS:
        raise InputError(f"evaluate: unknown task {task} (choose from {', '.join(EVALUATORS)})")
    with staged_output(out_dir) as staging:
        report = EVALUATORS[task](Path(pred_dir), Path(truth), staging)
        (staging / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report
