"""Lesion-wise detection metrics (Grøvik 2020, Jünger 2021): lesions are connected components.

Matching rule: predicted and true components are paired one-to-one, greedily in order of
decreasing IoU, and any overlap (IoU > 0) is enough. This is panoptica's
`NaiveThresholdMatching(Metric.IOU, matching_threshold=0.0, strict_threshold=True)`, including
its tie order, so the counts can be checked against panoptica. Consequence: a prediction split
into two components over one lesion gives one true positive and one false positive. With
`allow_many_to_one=True` (panoptica's option of the same name) every component that overlaps a
lesion is matched to the lesion it overlaps most, so fragments are not false positives; a
component bridging two lesions still counts for only one of them.

Components use the 26-neighbourhood (skimage's 3D default, as panoptica's cc3d backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import pearsonr
from skimage.measure import label

from .results import JsonResult
from .segmentation import Summary, summarize
from .subgroups import SubgroupComparison, compare_by_lesion_count
from .volumes import paired_arrays

MIN_FP_VOLUME_MM3 = 10.0  # Grøvik 2020 also counts false positives of at least 10 mm^3 only


@dataclass
class LesionRecord(JsonResult):
    """One true lesion: its volume and, when detected, the matched components and their Dice."""

    truth_id: int
    volume_mm3: float
    detected: bool
    predicted_ids: list[int]
    predicted_volume_mm3: float
    dice: float  # NaN (JSON null) for a missed lesion


@dataclass
class CaseDetection(JsonResult):
    case_id: str
    voxel_volume_mm3: float
    min_fp_volume_mm3: float
    n_truth: int
    n_predicted: int
    true_positives: int
    false_negatives: int
    false_positives: int
    false_positives_large: int  # unmatched predicted components >= min_fp_volume_mm3
    false_positive_volumes_mm3: list[float]
    lesions: list[LesionRecord]


@dataclass
class Correlation(JsonResult):
    n: int
    r: float
    p_value: float
    ci_low: float
    ci_high: float


@dataclass
class DetectionResult(JsonResult):
    n_patients: int
    n_truth_lesions: int
    n_detected: int
    n_false_positives: int
    sensitivity: float  # detected / true lesions, pooled over patients
    precision: float  # true positives / (true positives + false positives), pooled
    f1: float
    false_positives_per_patient: float
    false_positives_large_per_patient: float
    min_fp_volume_mm3: float
    lesion_dice: Summary  # over detected lesions
    volume_correlation: Correlation  # true vs predicted volume of detected lesions
    subgroups: dict[str, SubgroupComparison] = field(default_factory=dict)
    cases: list[CaseDetection] = field(default_factory=list)


def label_lesions(mask) -> np.ndarray:
    """Connected components of a non-zero mask, labelled 1..n (26-neighbourhood)."""
    return label(np.asarray(mask) > 0, connectivity=3).astype(np.int64)


def overlap_table(truth_labels: np.ndarray, predicted_labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """(truth ids, predicted ids, shared voxel counts) of every overlapping pair, by predicted then truth id."""
    both = (truth_labels > 0) & (predicted_labels > 0)
    stride = int(truth_labels.max()) + 1
    pairs, shared = np.unique(predicted_labels[both] * stride + truth_labels[both], return_counts=True)
    return pairs % stride, pairs // stride, shared


def match_lesions(
    truth_labels: np.ndarray, predicted_labels: np.ndarray, allow_many_to_one: bool = False
) -> dict[int, int]:
    """Map matched predicted component ids to true lesion ids (rule in the module docstring)."""
    truth_ids, predicted_ids, shared = overlap_table(truth_labels, predicted_labels)
    truth_size = np.bincount(truth_labels.ravel())[truth_ids]
    predicted_size = np.bincount(predicted_labels.ravel())[predicted_ids]
    iou = shared / (truth_size + predicted_size - shared)
    matches: dict[int, int] = {}
    matched_truth: set[int] = set()
    for pair in np.argsort(-iou, kind="stable"):
        truth_id, predicted_id = int(truth_ids[pair]), int(predicted_ids[pair])
        if predicted_id in matches or (truth_id in matched_truth and not allow_many_to_one):
            continue
        matches[predicted_id] = truth_id
        matched_truth.add(truth_id)
    return matches


def detect_lesions(
    prediction,
    truth,
    spacing=None,
    *,
    min_fp_volume_mm3: float = MIN_FP_VOLUME_MM3,
    allow_many_to_one: bool = False,
    case_id: str = "",
) -> CaseDetection:
    """Lesion-wise counts, volumes and Dice of one case.

    `prediction` and `truth`: binary masks (non-zero = lesion) as SimpleITK images on one grid,
    or arrays with `spacing` in mm. Threshold a probability map before calling this.
    """
    predicted_array, truth_array, voxel_volume = paired_arrays(prediction, truth, spacing)
    truth_labels, predicted_labels = label_lesions(truth_array), label_lesions(predicted_array)
    matches = match_lesions(truth_labels, predicted_labels, allow_many_to_one)
    truth_size = np.bincount(truth_labels.ravel())
    predicted_size = np.bincount(predicted_labels.ravel())
    truth_ids, predicted_ids, shared_voxels = overlap_table(truth_labels, predicted_labels)
    shared = {(int(t), int(p)): int(n) for t, p, n in zip(truth_ids, predicted_ids, shared_voxels)}

    lesions = []
    for truth_id in range(1, len(truth_size)):
        matched = sorted(p for p, t in matches.items() if t == truth_id)
        union_size = int(sum(predicted_size[p] for p in matched))
        overlap = sum(shared.get((truth_id, p), 0) for p in matched)
        lesions.append(
            LesionRecord(
                truth_id=truth_id,
                volume_mm3=float(truth_size[truth_id] * voxel_volume),
                detected=bool(matched),
                predicted_ids=matched,
                predicted_volume_mm3=float(union_size * voxel_volume),
                dice=2.0 * overlap / (truth_size[truth_id] + union_size) if matched else float("nan"),
            )
        )
    unmatched = [p for p in range(1, len(predicted_size)) if p not in matches]
    fp_volumes = [float(predicted_size[p] * voxel_volume) for p in unmatched]
    n_detected = sum(lesion.detected for lesion in lesions)
    return CaseDetection(
        case_id=case_id,
        voxel_volume_mm3=voxel_volume,
        min_fp_volume_mm3=float(min_fp_volume_mm3),
        n_truth=len(lesions),
        n_predicted=len(predicted_size) - 1,
        true_positives=n_detected,
        false_negatives=len(lesions) - n_detected,
        false_positives=len(unmatched),
        false_positives_large=sum(v >= min_fp_volume_mm3 for v in fp_volumes),
        false_positive_volumes_mm3=fp_volumes,
        lesions=lesions,
    )


def volume_correlation(truth_volumes, predicted_volumes) -> Correlation:
    """Pearson r (scipy) with its p-value and 95% CI (Fisher z); NaN with fewer than 4 pairs."""
    truth_volumes = np.asarray(truth_volumes, dtype=float)
    predicted_volumes = np.asarray(predicted_volumes, dtype=float)
    n = len(truth_volumes)
    if n < 4 or np.ptp(truth_volumes) == 0 or np.ptp(predicted_volumes) == 0:
        return Correlation(n, float("nan"), float("nan"), float("nan"), float("nan"))
    result = pearsonr(truth_volumes, predicted_volumes)
    ci = result.confidence_interval(0.95)
    return Correlation(n, float(result.statistic), float(result.pvalue), float(ci.low), float(ci.high))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def summarize_detection(cases: list[CaseDetection]) -> DetectionResult:
    """Pooled lesion-wise results over patients, lesion Dice, volume correlation and subgroups."""
    if len({case.min_fp_volume_mm3 for case in cases}) > 1:
        raise ValueError("cases were counted with different minimum false-positive volumes")
    detected = [lesion for case in cases for lesion in case.lesions if lesion.detected]
    n_truth = sum(case.n_truth for case in cases)
    n_false_positives = sum(case.false_positives for case in cases)
    sensitivity = _ratio(len(detected), n_truth)
    precision = _ratio(len(detected), len(detected) + n_false_positives)
    lesion_counts = [case.n_truth for case in cases]
    per_patient = {
        "sensitivity": [_ratio(case.true_positives, case.n_truth) for case in cases],
        "false_positives": [case.false_positives for case in cases],
        "lesion_dice": [summarize([lesion.dice for lesion in case.lesions]).mean for case in cases],
    }
    return DetectionResult(
        n_patients=len(cases),
        n_truth_lesions=n_truth,
        n_detected=len(detected),
        n_false_positives=n_false_positives,
        sensitivity=sensitivity,
        precision=precision,
        f1=_ratio(2 * sensitivity * precision, sensitivity + precision),
        false_positives_per_patient=_ratio(n_false_positives, len(cases)),
        false_positives_large_per_patient=_ratio(sum(case.false_positives_large for case in cases), len(cases)),
        min_fp_volume_mm3=cases[0].min_fp_volume_mm3 if cases else MIN_FP_VOLUME_MM3,
        lesion_dice=summarize([lesion.dice for lesion in detected]),
        volume_correlation=volume_correlation(
            [lesion.volume_mm3 for lesion in detected], [lesion.predicted_volume_mm3 for lesion in detected]
        ),
        subgroups={name: compare_by_lesion_count(values, lesion_counts) for name, values in per_patient.items()},
        cases=cases,
    )
