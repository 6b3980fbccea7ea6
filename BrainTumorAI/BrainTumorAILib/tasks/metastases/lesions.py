"""Lesions of a binary mask: connected components, the size filter, and the lesion table.

Everything is measured in physical space with SimpleITK, so oblique and anisotropic grids give
the same numbers as an isotropic one: volumes from the voxel volume, centroids from physical
points, the longest diameter (RANO-BM measures the longest diameter) as ITK's Feret diameter,
the largest distance between the centres of two border voxels of the lesion.

Components use the 26-neighbourhood, as `metrics.lesionwise` (and panoptica) do, so the ids here
are the lesions the statistics count. Lesion ids are 1..n by decreasing volume.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import SimpleITK as sitk

from ...image import lps_to_ras, same_geometry, voxel_volume_mm3
from . import COUNT_MIN_MM3, MIN_LESION_MM3  # noqa: F401 - the size rules, read from here by the tasks

MAX_LESIONS = 255        # the label image is uint8 (the contract's `seg` type)


def threshold_mask(probability: np.ndarray, threshold: float, extent_threshold: float | None = None) -> np.ndarray:
    """Voxels at or above `threshold`; with a lower `extent_threshold`, each lesion's extent is the
    voxels at or above it connected to one at or above `threshold` (hysteresis: the threshold decides
    which lesions exist, the extent threshold how far each reaches)."""
    probability = np.asarray(probability)
    if extent_threshold is None or extent_threshold >= threshold:
        return probability >= threshold
    from skimage.filters import apply_hysteresis_threshold

    # skimage's rule is "above" the low threshold; nextafter keeps "at or above" as without extent
    return apply_hysteresis_threshold(probability, np.nextafter(extent_threshold, -np.inf),
                                      np.nextafter(threshold, -np.inf))


def min_voxels(image: sitk.Image, min_volume_mm3: float) -> int:
    """The fewest voxels of `image`'s grid whose volume reaches `min_volume_mm3`."""
    return max(1, math.ceil(min_volume_mm3 / voxel_volume_mm3(image) - 1e-9))


def label_components(mask: sitk.Image, min_volume_mm3: float = MIN_LESION_MM3,
                     max_lesions: int = MAX_LESIONS) -> sitk.Image:
    """uint8 lesion ids of a binary mask's components of at least `min_volume_mm3`, 1..n by
    decreasing volume (ties in scan order); beyond `max_lesions` the smallest are dropped."""
    components = sitk.ConnectedComponent(sitk.Cast(mask > 0, sitk.sitkUInt8), True)  # True: 26-neighbourhood
    ordered = sitk.RelabelComponent(components, min_voxels(mask, min_volume_mm3), True)
    ordered = sitk.Threshold(ordered, 0, max_lesions, 0)  # ids past max_lesions -> background
    return sitk.Cast(ordered, sitk.sitkUInt8)


def keep_lesions_peaking(labels: sitk.Image, probability: sitk.Image, peak: float) -> sitk.Image:
    """`labels` without the lesions whose highest `probability` stays below `peak`; ids stay 1..n
    by decreasing volume."""
    statistics = sitk.LabelStatisticsImageFilter()
    statistics.Execute(probability, labels)
    faint = [label for label in statistics.GetLabels() if label and statistics.GetMaximum(label) < peak]
    if not faint:
        return labels
    kept = sitk.ChangeLabel(labels, changeMap={label: 0 for label in faint})
    return sitk.Cast(sitk.RelabelComponent(kept, 0, True), sitk.sitkUInt8)


def _check_grid(labels: sitk.Image, other: sitk.Image | None, name: str) -> None:
    if other is not None and not same_geometry(labels, other):
        raise ValueError(f"{name} is not on the lesion label image's grid")


def fold_agreement(labels: np.ndarray, fold_masks: Sequence[np.ndarray], n_lesions: int) -> np.ndarray:
    """Per lesion id 1..n: the fraction of fold masks that share at least one voxel with it."""
    hits = np.zeros(n_lesions + 1)
    for mask in fold_masks:
        hits[np.unique(labels[np.asarray(mask) > 0])] += 1
    return hits[1:] / len(fold_masks)


def lesion_table(labels: sitk.Image, probability: sitk.Image | None = None,
                 fold_masks: Sequence[sitk.Image] | None = None,
                 locate: Callable[[np.ndarray], Sequence[str]] | None = None) -> list[dict]:
    """One row per lesion id (keys catalog.LESION_KEYS), centroids in RAS mm.

    `probability` gives max_probability, `fold_masks` (binary, one per fold model) give
    fold_agreement, `locate` maps LPS points (N, 3) to "supratentorial"/"infratentorial";
    each is null in the rows when not given. All images must share the label image's grid.
    """
    _check_grid(labels, probability, "probability map")
    for mask in fold_masks or ():
        _check_grid(labels, mask, "fold mask")
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.ComputeFeretDiameterOn()
    shape.Execute(labels)
    ids = sorted(shape.GetLabels())
    if not ids:
        return []
    maximum = {}
    if probability is not None:
        statistics = sitk.LabelStatisticsImageFilter()
        statistics.Execute(sitk.Cast(probability, sitk.sitkFloat32), labels)
        maximum = {i: statistics.GetMaximum(i) for i in ids}
    agreement = None
    if fold_masks:
        array = sitk.GetArrayViewFromImage(labels)
        agreement = fold_agreement(array, [sitk.GetArrayViewFromImage(m) for m in fold_masks], max(ids))
    centroids_lps = np.array([shape.GetCentroid(i) for i in ids])
    locations = list(locate(centroids_lps)) if locate is not None else [None] * len(ids)
    rows = []
    for index, lesion_id in enumerate(ids):
        r, a, s = lps_to_ras(centroids_lps[index])
        rows.append({
            "id": int(lesion_id),
            "volume_mm3": round(shape.GetPhysicalSize(lesion_id), 3),
            "centroid_r": round(float(r), 2), "centroid_a": round(float(a), 2), "centroid_s": round(float(s), 2),
            "longest_diameter_mm": round(shape.GetFeretDiameter(lesion_id), 2),
            "max_probability": round(float(maximum[lesion_id]), 4) if maximum else None,
            "fold_agreement": round(float(agreement[lesion_id - 1]), 4) if agreement is not None else None,
            "location": locations[index],
            "found_by_other_method": None,  # set by tasks.metastases.cross_method when both tasks ran
        })
    return rows


def count_lesions(rows: Sequence[dict], min_volume_mm3: float = COUNT_MIN_MM3) -> int:
    """Lesions of at least `min_volume_mm3` (Grøvik 2020 also reports counts from 10 mm^3)."""
    return sum(row["volume_mm3"] >= min_volume_mm3 for row in rows)
