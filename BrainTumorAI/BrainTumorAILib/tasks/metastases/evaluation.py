"""Voxel- and lesion-wise statistics of the metastasis tasks over held-out cases (Grøvik 2020,
Jünger 2021), built on BrainTumorAILib.metrics.

Per case (`evaluate_case`, JSON-ready so a training run can store it): voxel AUC inside the
brain, Dice/precision/recall of the final mask, lesion-wise detection after the < 3 mm^3 filter,
FROC candidates and a histogram of the brain's voxel probabilities by truth (for a pooled ROC).
Pooled (`summarise_cases`): lesion-wise sensitivity (all, and for lesions of at least 3 mm),
false positives per case (all and >= 10 mm^3), lesion Dice, volume correlation, lesion-count
subgroups with Wilcoxon rank-sum tests, FROC with the operating point, bootstrap CIs, plots.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ...metrics import (
    CaseCandidates, CaseDetection, LesionRecord, bootstrap_intervals, detect_lesions, froc_candidates,
    froc_curve, summarize, summarize_detection, summarize_voxel_metrics, voxel_metrics,
)
from ...errors import InputError
from ...evaluation import task_entry
from ...image import read_image
from ...metrics.segmentation import VoxelMetrics
from ...metrics.plots import plot_froc
from ...training.cases import index_cases
from .cases import truth_image
from .cross_method import AGREED, AGREED_TASK
from .lesions import MIN_LESION_MM3, label_components
from .plots import plot_lesion_dice_by_group, plot_volume_agreement

MIN_DIAMETER_MM = 3.0  # sensitivity is also reported for lesions of at least 3 mm, the smallest the demo targets count
# A lesion "of at least 3 mm": its volume reaches that of a 3 mm sphere (14.1 mm^3).
MIN_DIAMETER_VOLUME_MM3 = math.pi / 6.0 * MIN_DIAMETER_MM ** 3
HISTOGRAM_BINS = 100
CANDIDATE_THRESHOLD = 0.1  # FROC candidates: components of probability >= this


def remove_small(mask: np.ndarray, spacing, min_volume_mm3: float = MIN_LESION_MM3) -> np.ndarray:
    """The mask without its components under `min_volume_mm3` (the task's size filter)."""
    image = sitk.GetImageFromArray(np.asarray(mask).astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in spacing))
    return sitk.GetArrayFromImage(label_components(image, min_volume_mm3, max_lesions=2 ** 31)) > 0


def probability_histograms(probability: np.ndarray, truth: np.ndarray, brain: np.ndarray) -> dict:
    """Counts of the brain's lesion and background voxels in HISTOGRAM_BINS probability bins."""
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    inside = brain > 0
    p, t = np.clip(probability[inside], 0, 1), truth[inside] > 0
    return {"lesion": np.histogram(p[t], edges)[0].tolist(), "background": np.histogram(p[~t], edges)[0].tolist()}


def evaluate_case(probability: np.ndarray, mask: np.ndarray, truth: np.ndarray, brain: np.ndarray, spacing,
                  threshold: float, case_id: str, min_lesion_mm3: float = MIN_LESION_MM3) -> dict:
    """One case's statistics, JSON-ready. `probability`: the ensemble map; `mask`: the final binary
    mask before the size filter (a fold vote, or the thresholded map); `truth`, `brain`: masks;
    `spacing`: mm. The voxel metrics count the brain only."""
    final = remove_small(mask, spacing, min_lesion_mm3)
    inside_probability = np.where(brain > 0, probability, 0.0).astype(np.float32)
    voxel = voxel_metrics(inside_probability, truth, brain, threshold)
    overlap = voxel_metrics(final.astype(np.float32), truth, brain, 0.5)  # Dice etc. of the final mask
    detection = detect_lesions(final, truth, spacing, case_id=case_id)
    candidates = froc_candidates(inside_probability, truth, spacing, candidate_threshold=CANDIDATE_THRESHOLD,
                                 min_volume_mm3=min_lesion_mm3, case_id=case_id)
    return {"case_id": case_id, "threshold": float(threshold),
            "voxel": {**voxel.to_json(), "dice": overlap.dice, "precision": overlap.precision,
                      "recall": overlap.recall, "specificity": overlap.specificity},
            "detection": detection.to_json(), "froc": candidates.to_json(),
            "histograms": probability_histograms(probability, truth, brain)}


def _nan(value):
    return float("nan") if value is None else value


def _detection(data: dict) -> CaseDetection:
    lesions = [LesionRecord(**{**lesion, "dice": _nan(lesion["dice"])}) for lesion in data["lesions"]]
    return CaseDetection(**{**data, "lesions": lesions})


def _voxel(data: dict) -> VoxelMetrics:
    return VoxelMetrics(**{k: _nan(v) for k, v in data.items()})


def pooled_voxel_roc(histograms: list[dict]) -> dict:
    """Voxel ROC AUC of all cases' brain voxels pooled, and its Youden threshold (bin edges)."""
    lesion = np.sum([h["lesion"] for h in histograms], axis=0).astype(float)
    background = np.sum([h["background"] for h in histograms], axis=0).astype(float)
    if lesion.sum() == 0 or background.sum() == 0:
        return {"auc": float("nan"), "youden_threshold": float("nan")}
    # Thresholds at the bin edges, descending: predicted positive = bins at or above the edge.
    tpr = np.concatenate([[0.0], np.cumsum(lesion[::-1]) / lesion.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(background[::-1]) / background.sum()])
    edges = np.linspace(1.0, 0.0, HISTOGRAM_BINS + 1)
    best = int(np.argmax(tpr - fpr))
    return {"auc": float(np.trapezoid(tpr, fpr)), "youden_threshold": float(edges[best]),
            "youden_sensitivity": float(tpr[best]), "youden_specificity": float(1 - fpr[best])}


def _figures(detections: list[CaseDetection]) -> dict:
    """The headline numbers of a set of cases (what the bootstrap resamples)."""
    detected = [l for c in detections for l in c.lesions if l.detected]
    large = [l for c in detections for l in c.lesions if l.volume_mm3 >= MIN_DIAMETER_VOLUME_MM3]
    n_truth = sum(c.n_truth for c in detections)
    n_cases = max(len(detections), 1)
    return {
        "sensitivity": len(detected) / n_truth if n_truth else float("nan"),
        "sensitivity_ge_3mm": (sum(l.detected for l in large) / len(large)) if large else float("nan"),
        "false_positives_per_case": sum(c.false_positives for c in detections) / n_cases,
        "false_positives_ge_10mm3_per_case": sum(c.false_positives_large for c in detections) / n_cases,
        "median_lesion_dice": summarize([l.dice for l in detected]).median,
    }


def summarise_cases(predictions: dict[str, dict], case_ids: list[str], out_dir: Path, title: str,
                    operating_threshold: float, n_draws: int = 1000) -> dict:
    """Pooled statistics of `evaluate_case` results (one per case id) and the task's plots in out_dir."""
    out_dir = Path(out_dir)
    results = [predictions[i] for i in case_ids]
    detections = [_detection(r["detection"]) for r in results]
    detection = summarize_detection(detections)
    voxel = summarize_voxel_metrics([_voxel(r["voxel"]) for r in results])
    figures = _figures(detections)
    intervals = bootstrap_intervals(lambda idx: _figures([detections[i] for i in idx]), len(detections),
                                    n_draws=n_draws)
    metrics = {
        "n_cases": len(results),
        "threshold": float(operating_threshold),
        "figures": figures,
        "ci": {name: ci.to_json() for name, ci in intervals.items()},
        "ci_method": f"bootstrap over cases, {n_draws} draws of 90% of the cases (with replacement)",
        "min_diameter_mm": MIN_DIAMETER_MM,
        "voxel": {name: s.to_json() for name, s in voxel.items()},
        "voxel_pooled_roc": pooled_voxel_roc([r["histograms"] for r in results]),
        "detection": {k: v for k, v in detection.to_json().items() if k != "cases"},
    }
    candidates = [CaseCandidates(**r["froc"]) for r in results]
    if sum(c.n_truth for c in candidates):
        froc = froc_curve(candidates, operating_threshold)
        metrics["froc"] = froc.to_json()
        plot_froc(froc, out_dir / "froc.png", f"{title}: FROC, held-out cases")
    plot_volume_agreement(detections, out_dir / "lesion_volumes.png", f"{title}: lesion volumes")
    plot_lesion_dice_by_group(detections, out_dir / "lesion_dice_by_count.png", f"{title}: Dice by lesion count")
    return metrics


def lowest_threshold_keeping(false_positive_scores, n_cases: int, max_fp_per_case: float, floor: float) -> float:
    """The lowest score threshold (never below `floor`) at which the pooled false-positive
    candidates of `n_cases` cases keep at most `max_fp_per_case` per case."""
    scores = np.sort(np.asarray(list(false_positive_scores), dtype=float))
    allowed = int(np.floor(max_fp_per_case * n_cases))
    # just above the (allowed+1)-th highest false-positive score
    threshold = floor if len(scores) <= allowed else float(np.nextafter(scores[len(scores) - allowed - 1], np.inf))
    return max(threshold, floor)


def lesion_peak_choice(froc_cases: list[dict], max_fp_per_case: float, floor: float) -> dict:
    """The peak probability a lesion must reach (result.json's `lesion_peak`), chosen on held-out
    FROC candidates (`froc` of `evaluate_case`): the lowest keeping at most `max_fp_per_case`
    false lesions per case; with the sensitivity and false lesions per case it leaves there."""
    peak = lowest_threshold_keeping((s for case in froc_cases for s in case["false_positive_scores"]),
                                    len(froc_cases), max_fp_per_case, floor)
    n_truth = sum(case["n_truth"] for case in froc_cases)
    found = sum(score >= peak for case in froc_cases for score in case["true_positive_scores"])
    false_found = sum(score >= peak for case in froc_cases for score in case["false_positive_scores"])
    sensitivity = found / n_truth if n_truth else float("nan")
    fp_per_case = false_found / len(froc_cases)
    return {"threshold": peak, "max_fp_per_case": max_fp_per_case, "sensitivity": sensitivity,
            "false_positives_per_case": fp_per_case,
            "how": f"lowest peak probability keeping at most {max_fp_per_case:g} false lesion(s) per held-out case "
                   f"(single fold models, FROC candidates): sensitivity {sensitivity:.2f}, "
                   f"{fp_per_case:.2f} false lesions per case there"}


def card_fields(metrics: dict, n_cases: int, threshold_how: str, dataset: str) -> dict:
    """Model-card fields: the probability threshold, and lesion-wise sensitivity, FP per case and
    median lesion Dice (with bootstrap CIs) on the held-out synthetic cases."""
    card_metrics = []
    names = ("sensitivity", "sensitivity_ge_3mm", "false_positives_per_case",
             "false_positives_ge_10mm3_per_case", "median_lesion_dice")
    for name in names:
        value, ci = metrics["figures"].get(name), metrics["ci"].get(name, {})
        if value is None or not math.isfinite(value) or ci.get("low") is None:
            continue
        card_metrics.append({"name": name, "value": float(value), "dataset": dataset, "n_cases": n_cases,
                             "ci": {"level": ci["level"], "low": ci["low"], "high": ci["high"],
                                    "method": metrics["ci_method"]}})
    threshold = float(metrics["threshold"])
    fields = {"thresholds": {"probability": threshold},
              "cutoffs": {"probability": {"value": threshold, "how_chosen": threshold_how}},
              "metrics": card_metrics}
    if "lesion_peak" in metrics:
        peak = metrics["lesion_peak"]
        fields["thresholds"]["lesion_peak"] = float(peak["threshold"])
        fields["cutoffs"]["lesion_peak"] = {"value": float(peak["threshold"]), "how_chosen": peak["how"]}
    return fields


def _agreed_entry(pred_dir: Path, case_id: str) -> dict:
    """The cross-method list (result.json `agreed_lesions`) as a task entry: a mask, no map."""
    path = pred_dir / case_id / "result.json"
    if not path.is_file():
        raise InputError(f"no prediction for case {case_id}: {path} is missing")
    if AGREED not in json.loads(path.read_text()):
        raise InputError(f"{path} holds no {AGREED} (run both mets-3d and mets-25d)")
    return {"threshold": 0.5, "min_lesion_mm3": 0.0}


def evaluate_runs(task: str, pred_dir: Path, truth, out_dir: Path) -> dict:
    """Lesion-wise and voxel statistics of the runs' `<task>_seg` / `<task>_prob` images (the T1CE
    input's grid) against each case's true lesions, at the threshold the runs used: the product's
    own output, so the fold vote (mets-3d) or fold mean (mets-25d) is what is measured. The run
    outputs carry no brain mask, so the voxel statistics count the whole T1CE grid.
    `mets-agreed` scores the cross-method list (`mets-agreed_seg.nii.gz`, a mask without a map)."""
    cases = [c for c in index_cases(truth, label_key="tumour_type") if c.truth is not None or c.seg is not None]
    if not cases:
        raise InputError(f"{truth}: no case with a lesion segmentation")
    predictions, thresholds = {}, set()
    for case in cases:
        entry = _agreed_entry(pred_dir, case.case_id) if task == AGREED_TASK else task_entry(pred_dir, case.case_id, task)
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
                                                  entry["threshold"], case.case_id, entry.get("min_lesion_mm3", MIN_LESION_MM3))
    if len(thresholds) != 1:
        raise InputError(f"runs used different thresholds {sorted(thresholds)}; evaluate runs of one model set")
    ids = [c.case_id for c in cases]
    metrics = summarise_cases(predictions, ids, out_dir, task, thresholds.pop())
    return {"task": task, "n_cases": len(cases), "metrics": metrics,
            "cases": {i: {k: v for k, v in predictions[i]["detection"].items() if k != "lesions"} for i in ids}}
