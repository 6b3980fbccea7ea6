"""Cross-method check of the two metastasis tasks, which none of the papers had.

When mets-25d (Grøvik 2020) and mets-3d (Jünger 2021) both ran on a case, each lesion of one
gets `found_by_other_method`: whether it shares at least one voxel, in physical space, with a
lesion of the other. The lesions both methods found form a third list, `agreed_lesions` in
result.json (with its label image `mets-agreed_seg.nii.gz`): fewer false lesions than either
method alone, at the price of the lesions only one of them finds. An agreed lesion is drawn as
mets-3d segmented it (DeepMedic's 3D mask); its row names the ids it has in both tasks.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ...image import same_geometry
from .lesions import lesion_table

TASKS = ("mets-3d", "mets-25d")  # the agreed lesions are drawn from the first
AGREED = "agreed_lesions"        # result.json key
AGREED_TASK = "mets-agreed"      # its name for `braintumorai evaluate --task`
AGREED_IMAGE = f"{AGREED_TASK}_seg.nii.gz"
FLAG = "found_by_other_method"


def on_grid(labels: sitk.Image, grid: sitk.Image) -> np.ndarray:
    """`labels` as an array on `grid` (nearest neighbour in physical space when the grids differ)."""
    if not same_geometry(labels, grid):
        labels = sitk.Resample(labels, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID())
    return sitk.GetArrayFromImage(labels)


def partners(labels: sitk.Image, other: sitk.Image) -> dict[int, list[int]]:
    """For every lesion id of `labels`: the ids of `other`'s lesions sharing a voxel with it,
    compared on `labels`' grid (`other` resampled there)."""
    mine, theirs = sitk.GetArrayFromImage(labels), on_grid(other, labels)
    ids = [int(i) for i in np.unique(mine) if i]
    both = (mine > 0) & (theirs > 0)
    pairs = set(zip(mine[both].tolist(), theirs[both].tolist()))
    return {i: sorted(int(b) for a, b in pairs if a == i) for i in ids}


def agreed_labels(labels: sitk.Image, keep: list[int]) -> sitk.Image:
    """The label image with only the ids in `keep`, renumbered 1..n in their order."""
    array = sitk.GetArrayFromImage(labels)
    out = np.zeros(array.shape, np.uint8)
    for new, old in enumerate(keep, start=1):
        out[array == old] = new
    image = sitk.GetImageFromArray(out)
    image.CopyInformation(labels)
    return image


def cross_check(result: dict, images: dict, lesion_rows: list[dict]) -> None:
    """Add FLAG to every metastasis lesion (result.json's and lesions.csv's rows), the AGREED list
    and its label image, in place; nothing when the two tasks did not both run."""
    if not all(task in result["tasks"] and f"{task}_seg.nii.gz" in images for task in TASKS):
        return
    first, second = TASKS
    found = {}
    for task, other in ((first, second), (second, first)):
        found[task] = partners(images[f"{task}_seg.nii.gz"], images[f"{other}_seg.nii.gz"])
        flags = {i: bool(p) for i, p in found[task].items()}
        for row in result["tasks"][task].get("lesions", []):
            row[FLAG] = flags.get(row["id"], False)
        for row in lesion_rows:
            if row.get("task") == task:
                row[FLAG] = flags.get(row["id"], False)
    keep = [i for i in sorted(found[first]) if found[first][i]]
    agreed = agreed_labels(images[f"{first}_seg.nii.gz"], keep)
    rows = lesion_table(agreed)
    for row, old in zip(rows, keep):
        row.update({f"{first}_id": old, f"{second}_ids": found[first][old],
                    "centroid_ras": [row["centroid_r"], row["centroid_a"], row["centroid_s"]]})
    result[AGREED] = {
        "definition": f"{first} lesions that share at least one voxel with a {second} lesion (drawn as {first} "
                      f"segmented them)",
        "image": AGREED_IMAGE, "n_lesions": len(rows), "lesions": rows}
    images[AGREED_IMAGE] = agreed
