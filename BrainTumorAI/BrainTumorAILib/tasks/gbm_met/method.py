"""GBM vs solitary metastasis (Shin 2021): axial ROI sections, fold-ensemble vote, predictive index, CAM.

The patient's axial sections through the ROI (see gbm_met_sections: the T2's own sections for
an axial 2D T2, else 5 mm apart), each sampled over the ROI's footprint from the T2-referenced
images, fed as [T1CE, T2, T2] to each fold's ResNet-50; a per-section majority vote over folds,
then the predictive index = sections voted GBM / sections, compared with the model set's
cut-off (Shin 2021: 0.55). Sections and CAM hold nothing outside the ROI as drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from ...errors import InputError
from ...explain import ensemble_cam, normalise_unit
from ...image import lps_to_ras
from ...preprocessing.grid import geometry
from ...roi import BoxROI, VoxelBox
from .sections import SectionPlan, inside_roi, plan_sections, sample_sections, to_volume

TASK = "gbm-met"
CLASSES = ("metastasis", "GBM")  # index 1, GBM, is the positive class as in Shin 2021
MIN_BRAIN_FRACTION = 0.05
INPUT_CHANNELS = ("t1ce", "t2", "t2")  # Shin 2021


@dataclass
class SectionStack:
    """Network inputs of the ROI's axial sections and the plan that placed them."""

    inputs: torch.Tensor  # (n_sections, 3, size, size)
    plan: SectionPlan


def roi_box(brain_mask: sitk.Image, roi: BoxROI) -> VoxelBox:
    """The ROI's voxels on the reference grid; refused when the ROI holds (almost) no brain."""
    box = roi.voxel_box(brain_mask, "T2 (reference)")
    brain = sitk.GetArrayViewFromImage(brain_mask)[box.numpy_slices()]
    if brain.mean() < MIN_BRAIN_FRACTION:
        bounds = np.round(roi.bounds_ras(), 1).tolist()
        raise InputError(f"ROI {bounds} (RAS mm) lies outside the head: under {MIN_BRAIN_FRACTION:.0%} of it is brain")
    return box


def roi_section_stack(images: dict[str, sitk.Image], brain_mask: sitk.Image, roi: BoxROI, input_size: int,
                      t2_geometry: dict | None = None, pixel_mm: float | None = None) -> SectionStack:
    """The ROI's axial sections as network inputs; `t2_geometry` is the T2 input's (default: the
    reference grid's, for images already on the T2's own grid); `pixel_mm` as in `plan_sections`."""
    roi_box(brain_mask, roi)
    plan = plan_sections(roi, t2_geometry or geometry(images["t2"]), input_size, pixel_mm=pixel_mm)
    return SectionStack(torch.from_numpy(sample_sections(images, plan, INPUT_CHANNELS)), plan)


@torch.inference_mode()
def fold_probabilities(models, inputs: torch.Tensor, device: torch.device, batch_size: int = 32) -> np.ndarray:
    """P(GBM) per fold and slice, shape (n_folds, n_slices)."""
    result = []
    for model in models:
        model.eval()
        chunks = [torch.softmax(model(part.to(device)), dim=1)[:, 1].cpu() for part in inputs.split(batch_size)]
        result.append(torch.cat(chunks).numpy())
    return np.stack(result)


def vote(probabilities: np.ndarray, cutoff: float) -> dict:
    """Per-slice majority vote over folds, predictive index, decision and fold agreement."""
    n_folds, n_slices = probabilities.shape
    fold_votes = probabilities >= 0.5
    gbm_votes = fold_votes.sum(axis=0)
    # a tie (even number of folds) goes to the mean probability
    slice_gbm = np.where(gbm_votes * 2 == n_folds, probabilities.mean(0) >= 0.5, gbm_votes * 2 > n_folds)
    index = float(slice_gbm.mean())
    agreement = np.where(slice_gbm, gbm_votes, n_folds - gbm_votes) / n_folds
    return {
        "predictive_index": index,
        "cutoff": float(cutoff),
        "label": CLASSES[1] if index >= cutoff else CLASSES[0],
        "n_slices": int(n_slices),
        "slice_votes": slice_gbm.astype(int).tolist(),
        "slice_gbm_folds": gbm_votes.astype(int).tolist(),
        "slice_probability_gbm": probabilities.mean(0).round(4).tolist(),
        "fold_probabilities_gbm": probabilities.round(4).tolist(),
        "fold_predictive_indices": fold_votes.mean(axis=1).round(4).tolist(),
        "fold_agreement": float(agreement.mean()),
    }


def cam_volume(models, stack: SectionStack, section_classes: np.ndarray, roi: BoxROI,
               reference_grid: sitk.Image) -> sitk.Image:
    """CAM of each section's voted class placed back on the reference grid inside the ROI, 0-1."""
    maps = ensemble_cam(models, stack.inputs, torch.as_tensor(section_classes, dtype=torch.long))
    volume = to_volume(maps, stack.plan, reference_grid, roi)
    image = sitk.GetImageFromArray(normalise_unit(sitk.GetArrayFromImage(volume)))
    image.CopyInformation(reference_grid)
    return image


def restrict_to_roi(image: sitk.Image, roi: BoxROI) -> sitk.Image:
    """The map with every voxel whose centre lies outside the ROI set to 0 (e.g. after
    interpolation onto a T2's thick voxels, which would carry it past the ROI's faces)."""
    restricted = sitk.GetImageFromArray(sitk.GetArrayFromImage(image) * inside_roi(image, roi))
    restricted.CopyInformation(image)
    return sitk.Cast(restricted, image.GetPixelID())


def predict(models, images: dict[str, sitk.Image], brain_mask: sitk.Image, roi: BoxROI, input_size: int,
            cutoff: float, device: torch.device, with_cam: bool = True,
            t2_geometry: dict | None = None, pixel_mm: float | None = None) -> tuple[dict, sitk.Image | None]:
    """The task on preprocessed, T2-referenced images: result dict and CAM on the reference grid."""
    stack = roi_section_stack(images, brain_mask, roi, input_size, t2_geometry, pixel_mm)
    result = vote(fold_probabilities(models, stack.inputs, device), cutoff)
    result["sections"] = {"source": stack.plan.source, "n": stack.plan.n_sections,
                          "spacing_mm": float(stack.plan.grid.GetSpacing()[2]),
                          "pixel_mm": np.round(stack.plan.grid.GetSpacing()[:2], 3).tolist(),
                          "normal_ras": np.round(lps_to_ras(stack.plan.normal_lps()), 4).tolist(),
                          "centres_ras": np.round(lps_to_ras(stack.plan.centres_lps()), 2).tolist()}
    cam = cam_volume(models, stack, np.array(result["slice_votes"]), roi, brain_mask) if with_cam else None
    return result, cam
