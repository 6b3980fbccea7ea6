"""Free-response ROC (Jünger 2021): lesion-wise sensitivity against false positives per patient.

Candidates are the connected components of probability >= `candidate_threshold`, each scored by
its highest probability, and matched to the true lesions by the rule of `lesionwise`. Raising
the score threshold then removes whole candidates, which gives the curve without re-labelling
the map at every threshold. (A candidate is not split when the map would break into several
components at a higher threshold: a cheap approximation that can only merge detections.)
MONAI's `compute_froc_curve_data` / `compute_froc_score` turn the scores into the curve and
the average sensitivity at fixed false-positive rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from monai.metrics import compute_froc_curve_data, compute_froc_score
from scipy.ndimage import maximum

from ..errors import InputError
from .lesionwise import label_lesions, match_lesions
from .results import JsonResult
from .volumes import paired_arrays

EVAL_FPS_PER_PATIENT = (0.25, 0.5, 1, 2, 4, 8)  # MONAI's (CAMELYON 16) defaults


@dataclass
class CaseCandidates(JsonResult):
    """Scores of one case: per detected true lesion its best candidate's, and every unmatched candidate's."""

    case_id: str
    n_truth: int
    true_positive_scores: list[float]
    false_positive_scores: list[float]


@dataclass
class FrocResult(JsonResult):
    n_patients: int
    n_truth_lesions: int
    thresholds: list[float]  # increasing score thresholds; the last, +inf (JSON null), keeps nothing
    fps_per_patient: list[float]
    sensitivity: list[float]
    eval_fps_per_patient: list[float]
    sensitivity_at_eval_fps: list[float]
    froc_score: float  # mean of sensitivity_at_eval_fps
    operating_threshold: float
    operating_sensitivity: float
    operating_fps_per_patient: float


def froc_candidates(
    probability,
    truth,
    spacing=None,
    *,
    candidate_threshold: float = 0.1,
    min_volume_mm3: float = 0.0,
    allow_many_to_one: bool = False,
    case_id: str = "",
) -> CaseCandidates:
    """Score the candidates of one probability map against its true lesion mask.

    Candidates smaller than `min_volume_mm3` are dropped first (Jünger removes < 3 mm^3 as noise).
    """
    if not candidate_threshold > 0:
        raise InputError("candidate_threshold must be > 0 (a zero threshold makes the whole volume one candidate)")
    probability, truth, voxel_volume = paired_arrays(probability, truth, spacing)
    candidates = label_lesions(probability >= candidate_threshold)
    sizes = np.bincount(candidates.ravel())
    too_small = np.flatnonzero(sizes * voxel_volume < min_volume_mm3)
    candidates[np.isin(candidates, too_small[too_small > 0])] = 0
    truth_labels = label_lesions(truth)
    matches = match_lesions(truth_labels, candidates, allow_many_to_one)

    ids = np.unique(candidates[candidates > 0])
    scores = dict(zip(ids.tolist(), np.atleast_1d(maximum(probability, labels=candidates, index=ids)).tolist()))
    best_per_lesion: dict[int, float] = {}
    for candidate_id, truth_id in matches.items():
        best_per_lesion[truth_id] = max(best_per_lesion.get(truth_id, 0.0), scores[candidate_id])
    return CaseCandidates(
        case_id=case_id,
        n_truth=int(truth_labels.max()),
        true_positive_scores=sorted(best_per_lesion.values()),
        false_positive_scores=sorted(score for cid, score in scores.items() if cid not in matches),
    )


def froc_curve(
    cases: list[CaseCandidates],
    operating_threshold: float = 0.5,
    eval_fps_per_patient=EVAL_FPS_PER_PATIENT,
) -> FrocResult:
    """Pool the candidates of all patients into the FROC curve, its score and one operating point."""
    n_truth = sum(case.n_truth for case in cases)
    if not cases or n_truth == 0:
        raise InputError("an FROC curve needs at least one case with a true lesion")
    tp_scores = np.array([s for case in cases for s in case.true_positive_scores], dtype=float)
    fp_scores = np.array([s for case in cases for s in case.false_positive_scores], dtype=float)
    # MONAI never uses the lowest score as a threshold (CAMELYON's background score); a sentinel
    # 0 score, below every candidate (all are >= candidate_threshold > 0), keeps all real scores.
    fps, sensitivity = compute_froc_curve_data(np.append(fp_scores, 0.0), tp_scores, n_truth, len(cases))
    thresholds = np.append(np.unique(np.concatenate([tp_scores, fp_scores])), np.inf)
    eval_fps = np.asarray(eval_fps_per_patient, dtype=float)
    sensitivity_at_eval = [float(compute_froc_score(fps, sensitivity, (rate,))) for rate in eval_fps]
    return FrocResult(
        n_patients=len(cases),
        n_truth_lesions=n_truth,
        thresholds=thresholds.tolist(),
        fps_per_patient=fps.tolist(),
        sensitivity=sensitivity.tolist(),
        eval_fps_per_patient=eval_fps.tolist(),
        sensitivity_at_eval_fps=sensitivity_at_eval,
        froc_score=float(np.mean(sensitivity_at_eval)),
        operating_threshold=float(operating_threshold),
        operating_sensitivity=float(np.sum(tp_scores >= operating_threshold) / n_truth),
        operating_fps_per_patient=float(np.sum(fp_scores >= operating_threshold) / len(cases)),
    )
