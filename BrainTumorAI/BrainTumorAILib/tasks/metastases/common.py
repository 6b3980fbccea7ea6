"""What both metastasis tasks (mets-25d, Grøvik 2020; mets-3d, Jünger 2021) do after their network.

Probability maps on the preprocessed T1CE-referenced grid -> binary mask (the model card's
threshold; with fold masks, their majority vote, Jünger 2021) -> mapped onto the T1CE input's
exact grid -> lesions of at least the model set's `min_lesion_mm3` (Jünger 2021: 3 mm^3;
Grøvik 2020: none) -> lesion table -> the task's result.json
entry, lesion rows and images `<task>_seg.nii.gz` (uint8 lesion ids) and `<task>_prob.nii.gz`.

Lesions are counted and measured on the T1CE input grid, the grid of the written `seg` image,
so the table describes exactly the label image the user sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import SimpleITK as sitk

from ...errors import InputError
from ...image import copy_geometry
from ...networks import build_network
from ...preprocessing import to_input_grid
from ...preprocessing.transforms import apply
from ..context import TaskOutput
from .lesions import (
    COUNT_MIN_MM3, MIN_LESION_MM3, count_lesions, keep_lesions_peaking, label_components, lesion_table,
    threshold_mask,
)
from .tentorium import TentorialLocator

GEOMETRY_OF = "t1ce"  # the contract: metastasis images have the T1CE input's geometry


@dataclass
class LesionMaps:
    """A network's output on the preprocessed reference grid (arrays in (z, y, x) order).

    `probability`: the ensemble's map (mean over folds), 0-1. `fold_probabilities`: one map per
    fold model when the masks are to be fused by majority vote; None thresholds `probability`.
    """

    probability: np.ndarray
    fold_probabilities: Sequence[np.ndarray] | None = None


def load_task(context, task: str):
    """The task's default model set, the case preprocessed as the set asks, and its fold models on
    the context's device: (model_set, case, models). The set's inputs must all be present."""
    model_set = context.registry.default_for(task)
    case = context.preprocessed(model_set.preprocessing)
    missing = [name for name in model_set.inputs if name not in case.images]
    if missing:
        raise InputError(f"{task} model set {model_set.name} needs --{' --'.join(missing)}")
    context.progress.update(task, 0.3, "loading the fold models")
    return model_set, case, [m.to(context.device) for m in model_set.load_folds(build_network)]


def majority_vote(masks: Sequence[np.ndarray]) -> np.ndarray:
    """Voxels set in more than half of the masks (Jünger 2021 fuses its five fold masks so)."""
    if not len(masks):
        raise ValueError("majority vote of no masks")
    votes = np.zeros(np.shape(masks[0]), np.int16)
    for mask in masks:
        votes += np.asarray(mask) > 0
    return votes * 2 > len(masks)


def binary_masks(maps: LesionMaps, threshold: float,
                 extent_threshold: float | None = None) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """The lesion mask (vote of the fold masks, or the thresholded map, see `threshold_mask`) and
    the fold masks."""
    if maps.fold_probabilities is None:
        return threshold_mask(maps.probability, threshold, extent_threshold), None
    fold_masks = [np.asarray(p) >= threshold for p in maps.fold_probabilities]
    return majority_vote(fold_masks), fold_masks


def _on_input(array: np.ndarray, case, interpolator, pixel_type) -> sitk.Image:
    image = sitk.Cast(copy_geometry(array, case.brain_mask), pixel_type)
    return to_input_grid(image, case, interpolator, sequence=GEOMETRY_OF)


def min_lesion_of(model_set) -> float:
    """The model set's smallest lesion (its preprocessing entry's `min_lesion_mm3`); sets made
    before that entry existed keep Jünger 2021's 3 mm^3."""
    settings = model_set.preprocessing if model_set is not None else {}
    return float(settings.get("min_lesion_mm3", MIN_LESION_MM3))


def shared_locator(case, shared: dict) -> TentorialLocator:
    """The TentorialLocator of `case`'s reference space, registered once per run (`shared`)."""
    key = ("tentorial_locator", case.reference)
    if key not in shared:
        shared[key] = TentorialLocator(case.images[case.reference], case.brain_mask)
    return shared[key]


def lesion_output(task: str, maps: LesionMaps, case, model_set, threshold: float,
                  min_lesion_mm3: float | None = None, count_min_mm3: float = COUNT_MIN_MM3,
                  locate: bool | Callable = True, shared: dict | None = None) -> TaskOutput:
    """The task's TaskOutput from its maps on `case`'s (a PreprocessedCase) reference grid.

    `model_set` (a registry ModelSet, or None in tests) names the weights and their demo notice.
    `locate=True` registers the brain to MNI152 to call each lesion supra- or infratentorial
    (skipped when there is no lesion); a callable (LPS points of the reference grid's space ->
    locations, e.g. a TentorialLocator made earlier) is used as is; False leaves them null.
    `shared` (TaskContext.shared) keeps the MNI registration for the run's other tasks in the same space.
    """
    if min_lesion_mm3 is None:
        min_lesion_mm3 = min_lesion_of(model_set)
    extent_threshold = (model_set.preprocessing if model_set is not None else {}).get("extent_threshold")
    mask, fold_masks = binary_masks(maps, threshold, extent_threshold)
    probability = _on_input(np.clip(np.asarray(maps.probability, np.float32), 0.0, 1.0), case,
                            sitk.sitkLinear, sitk.sitkFloat32)
    probability = sitk.Clamp(probability, sitk.sitkFloat32, 0.0, 1.0)  # linear interpolation stays in 0-1
    labels = label_components(_on_input(mask.astype(np.uint8), case, sitk.sitkNearestNeighbor, sitk.sitkUInt8),
                              min_lesion_mm3)
    peak = model_set.thresholds.get("lesion_peak") if model_set is not None else None
    if peak is not None:
        labels = keep_lesions_peaking(labels, probability, float(peak))
    folds_on_input = None if fold_masks is None else [
        _on_input(m.astype(np.uint8), case, sitk.sitkNearestNeighbor, sitk.sitkUInt8) for m in fold_masks]
    locator, notes = None, []
    if locate and sitk.GetArrayViewFromImage(labels).any():
        to_reference = np.linalg.inv(case.transforms[GEOMETRY_OF])  # T1CE input -> reference grid space
        try:
            mni = locate if callable(locate) else shared_locator(case, {} if shared is None else shared)
            locator = lambda points: mni(apply(to_reference, points))  # noqa: E731
        except RuntimeError as error:  # ITK could not register this brain: the lesions stay unlocated
            notes.append(f"supra/infratentorial location not available: registration to MNI152 failed ({error})")
    rows = lesion_table(labels, probability, folds_on_input, locator)
    result = {
        "n_lesions": len(rows),
        f"n_lesions_ge_{count_min_mm3:g}mm3": count_lesions(rows, count_min_mm3),
        "threshold": float(threshold),
        **({"extent_threshold": float(extent_threshold)} if extent_threshold is not None else {}),
        **({"lesion_peak": float(peak)} if peak is not None else {}),
        "min_lesion_mm3": float(min_lesion_mm3),
        "fusion": (f"majority vote of {len(fold_masks)} fold masks" if fold_masks is not None
                   else "threshold of the mean probability"),
        "model_set": model_set.name if model_set is not None else None,
        "notice": model_set.notice if model_set is not None else "",
        "notes": notes,
        # the contract's centroid_ras beside the flat columns of lesions.csv
        "lesions": [{**row, "centroid_ras": [row["centroid_r"], row["centroid_a"], row["centroid_s"]]}
                    for row in rows],
    }
    images = {f"{task}_seg.nii.gz": labels, f"{task}_prob.nii.gz": probability}
    return TaskOutput(result, images, lesions=rows,
                      model_set=model_set.describe() if model_set is not None else None)
