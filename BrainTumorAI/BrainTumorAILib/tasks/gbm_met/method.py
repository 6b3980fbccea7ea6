"""GBM vs solitary metastasis (Shin 2021): ROI slices, fold-ensemble vote, predictive index, CAM.

Every axial slice of the ROI on the T2-referenced 1 mm grid is cropped to the ROI rectangle,
fed as [T1CE, T2, T2] to each fold's ResNet-50; a per-slice majority vote over folds, then the
predictive index = slices voted GBM / slices in the ROI, compared with the model card's cut-off
(Shin 2021, predictive index; 0.55 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from ...errors import InputError
from ...explain import ensemble_cam, normalise_unit
from ...roi import BoxROI, VoxelBox

TASK = "gbm-met"
CLASSES = ("metastasis", "GBM")  # index 1, GBM, is the positive class as in Shin 2021
MIN_BRAIN_FRACTION = 0.05


@dataclass
class SliceStack:
    """Network inputs of the ROI's slices and where they came from on the reference grid."""

    inputs: torch.Tensor  # (n_slices, 3, size, size)
    box: VoxelBox  # on the reference 1 mm grid
    slice_indices: list[int]


def roi_box(brain_mask: sitk.Image, roi: BoxROI) -> VoxelBox:
    """The ROI's voxels on the reference grid; refused when the ROI holds (almost) no brain."""
    box = roi.voxel_box(brain_mask, "T2 (reference)")
    brain = sitk.GetArrayViewFromImage(brain_mask)[box.numpy_slices()]
    if brain.mean() < MIN_BRAIN_FRACTION:
        bounds = np.round(roi.bounds_ras(), 1).tolist()
        raise InputError(f"ROI {bounds} (RAS mm) lies outside the head: under {MIN_BRAIN_FRACTION:.0%} of it is brain")
    return box


def roi_crops(images: dict[str, sitk.Image], box: VoxelBox) -> np.ndarray:
    """Every ROI slice cropped to the ROI rectangle as [T1CE, T2, T2], shape (k, 3, j, i)."""
    crops = [sitk.GetArrayViewFromImage(images[name])[box.numpy_slices()] for name in ("t1ce", "t2", "t2")]
    return np.stack(crops, axis=1).astype(np.float32)


def resize_slices(crops: torch.Tensor, input_size: int) -> torch.Tensor:
    return F.interpolate(crops, size=(input_size, input_size), mode="bilinear", align_corners=False)


def roi_slice_stack(images: dict[str, sitk.Image], brain_mask: sitk.Image, roi: BoxROI,
                    input_size: int) -> SliceStack:
    """Crop every ROI slice to the ROI rectangle and resize it to `input_size` squared."""
    box = roi_box(brain_mask, roi)
    crops = torch.from_numpy(roi_crops(images, box))
    return SliceStack(resize_slices(crops, input_size), box, list(box.axial_slices))


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


def cam_volume(models, stack: SliceStack, slice_classes: np.ndarray, reference_grid: sitk.Image) -> sitk.Image:
    """CAM of each slice's voted class, resized back into the ROI rectangle, 0-1 over the volume."""
    maps = ensemble_cam(models, stack.inputs, torch.as_tensor(slice_classes, dtype=torch.long))
    box = stack.box
    rows, cols = box.size[1], box.size[0]
    resized = F.interpolate(torch.from_numpy(maps)[:, None], size=(rows, cols), mode="bilinear", align_corners=False)
    volume = np.zeros(sitk.GetArrayViewFromImage(reference_grid).shape, dtype=np.float32)
    volume[box.numpy_slices()] = resized[:, 0].numpy()
    image = sitk.GetImageFromArray(normalise_unit(volume))
    image.CopyInformation(reference_grid)
    return image


def predict(models, images: dict[str, sitk.Image], brain_mask: sitk.Image, roi: BoxROI, input_size: int,
            cutoff: float, device: torch.device, with_cam: bool = True) -> tuple[dict, sitk.Image | None]:
    """The task on preprocessed, T2-referenced images: result dict and CAM on the reference grid."""
    stack = roi_slice_stack(images, brain_mask, roi, input_size)
    result = vote(fold_probabilities(models, stack.inputs, device), cutoff)
    result["slices_used"] = stack.slice_indices
    result["roi_voxel_box"] = {"start": list(stack.box.start), "stop": list(stack.box.stop)}
    cam = cam_volume(models, stack, np.array(result["slice_votes"]), brain_mask) if with_cam else None
    return result, cam
