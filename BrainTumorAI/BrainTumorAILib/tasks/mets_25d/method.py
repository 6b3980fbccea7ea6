"""Brain metastases with the 2.5D GoogLeNet FCN (Grøvik 2020): slice-wise inference.

Each sequence of the preprocessed T1CE-referenced case (skull-stripped, 1 mm) is equalised per
axial slice inside the brain. The network sees, for one axial slice, the 7 adjacent slices
(centre +/- 3) of every input sequence stacked as channels, sequence-major in the model set's
input order and, within a sequence, from inferior to superior; beyond the volume's first or last
slice the edge slice repeats. Slices are cut to one square window around the brain, resized to
the model's image size (Grøvik 2020: 256 x 256), and the logits resized back; the probability
volume on the reference grid is the mean of the fold models' sigmoid maps, zero outside the brain.

"Axial" is the grid axis closest to superior-inferior, as for the per-slice equalisation, so
obliquely or sagittally stored T1CE volumes work; slices are ordered inferior to superior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F

from ...preprocessing import equalise_histogram_per_slice
from ...preprocessing.grid import axial_axis
from ..metastases.common import LesionMaps

TASK = "mets-25d"
CONTEXT_SLICES = 3  # Grøvik 2020: 7 adjacent slices, centre +/- 3
SLICES = 2 * CONTEXT_SLICES + 1
PAPER_SEQUENCES = ("t1ce", "t1", "flair", "t2")  # Grøvik 2020: 4 sequences x 7 slices = 28 channels
PAPER_IMAGE_SIZE = 256
WINDOW_MARGIN_MM = 8.0  # around the brain in the slice plane, so lesions at its edge keep context


@dataclass(frozen=True)
class AxialOrder:
    """How a (z, y, x) array of an image is seen as (axial slice, row, column), slices from
    inferior to superior. Works on arrays with leading channel axes too."""

    axis: int  # the NumPy axis (of z, y, x) whose index direction is closest to superior-inferior
    flip: bool  # that index runs from superior to inferior

    @classmethod
    def of(cls, image: sitk.Image) -> "AxialOrder":
        axis = axial_axis(image)
        direction = np.array(image.GetDirection()).reshape(3, 3)
        return cls(axis=axis, flip=bool(direction[2, 2 - axis] < 0))  # LPS: +z is superior

    def to_axial(self, array: np.ndarray) -> np.ndarray:
        lead = array.ndim - 3
        moved = np.moveaxis(array, lead + self.axis, lead)
        return np.flip(moved, axis=lead) if self.flip else moved

    def from_axial(self, array: np.ndarray) -> np.ndarray:
        lead = array.ndim - 3
        flipped = np.flip(array, axis=lead) if self.flip else array
        return np.moveaxis(flipped, lead, lead + self.axis)


@dataclass(frozen=True)
class SliceWindow:
    """The square in-plane window the network sees (may reach past the array: zeros there) and
    the axial slices it runs on (those holding brain)."""

    row: int
    column: int
    side: int
    slices: tuple[int, ...]


def brain_window(brain_axial: np.ndarray, spacing_mm: float, margin_mm: float = WINDOW_MARGIN_MM) -> SliceWindow:
    """The square around every brain voxel of all axial slices, widened by `margin_mm`."""
    slices = tuple(int(i) for i in np.flatnonzero(brain_axial.any(axis=(1, 2))))
    if not slices:
        raise ValueError("the brain mask is empty")
    rows = np.flatnonzero(brain_axial.any(axis=(0, 2)))
    columns = np.flatnonzero(brain_axial.any(axis=(0, 1)))
    margin = int(math.ceil(margin_mm / spacing_mm))
    side = int(max(rows[-1] - rows[0], columns[-1] - columns[0])) + 1 + 2 * margin
    row = int((rows[0] + rows[-1] + 1 - side) // 2)
    column = int((columns[0] + columns[-1] + 1 - side) // 2)
    return SliceWindow(row, column, side, slices)


def crop_window(array: np.ndarray, window: SliceWindow) -> np.ndarray:
    """The window's square of every slice of (..., rows, columns); zeros beyond the array."""
    out = np.zeros(array.shape[:-2] + (window.side, window.side), array.dtype)
    source, target = [], []
    for start, size in ((window.row, array.shape[-2]), (window.column, array.shape[-1])):
        low, high = max(start, 0), min(start + window.side, size)
        source.append(slice(low, high))
        target.append(slice(low - start, high - start))
    out[(..., *target)] = array[(..., *source)]
    return out


def uncrop_window(square: np.ndarray, window: SliceWindow, shape: tuple[int, int]) -> np.ndarray:
    """Put the window's squares (..., side, side) back into slices of `shape` (rows, columns)."""
    out = np.zeros(square.shape[:-2] + tuple(shape), square.dtype)
    source, target = [], []
    for start, size in ((window.row, shape[0]), (window.column, shape[1])):
        low, high = max(start, 0), min(start + window.side, size)
        target.append(slice(low, high))
        source.append(slice(low - start, high - start))
    out[(..., *target)] = square[(..., *source)]
    return out


def context_indices(centre: int, n_slices: int, context: int = CONTEXT_SLICES) -> np.ndarray:
    """Slice indices centre - context .. centre + context, the edge slice repeated past either end."""
    return np.clip(np.arange(centre - context, centre + context + 1), 0, n_slices - 1)


def stack_slices(volumes: np.ndarray, centres, context: int = CONTEXT_SLICES) -> np.ndarray:
    """Network inputs (n, n_sequences * (2 context + 1), rows, columns) from axial volumes
    (n_sequences, slices, rows, columns): per sequence, its slices from inferior to superior."""
    n_sequences, n_slices = volumes.shape[:2]
    stacks = [volumes[:, context_indices(c, n_slices, context)] for c in centres]
    return np.stack(stacks).reshape(len(stacks), n_sequences * (2 * context + 1), *volumes.shape[2:])


def resize_slices(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, c, h, w) -> (n, c, size, size), bilinear; anti-aliased when shrinking."""
    if images.shape[-2:] == (size, size):
        return images
    shrinking = size < max(images.shape[-2:])
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)


def window_slices(volumes_axial: np.ndarray, window: SliceWindow, image_size: int) -> torch.Tensor:
    """Every axial slice of every sequence cut to the window and resized: (n_sequences, slices, size, size)."""
    cropped = torch.from_numpy(np.ascontiguousarray(crop_window(volumes_axial, window), dtype=np.float32))
    by_slice = resize_slices(cropped.transpose(0, 1), image_size)  # slices as the batch
    return by_slice.transpose(0, 1).contiguous()


def equalised_volumes(images: dict[str, sitk.Image], brain_mask: sitk.Image, inputs) -> np.ndarray:
    """(n_sequences, z, y, x): each input sequence equalised per axial slice inside the brain
    (Grøvik 2020), 0 outside it."""
    return np.stack([sitk.GetArrayFromImage(equalise_histogram_per_slice(images[name], brain_mask))
                     for name in inputs]).astype(np.float32)


@torch.inference_mode()
def slice_probabilities(models, slices: torch.Tensor, centres, context: int, device: torch.device,
                        batch_size: int = 16) -> list[np.ndarray]:
    """Each fold model's sigmoid map of the given axial slices: per model (len(centres), size, size)."""
    volumes = slices.numpy()
    maps = [[] for _ in models]
    for start in range(0, len(centres), batch_size):
        inputs = torch.from_numpy(stack_slices(volumes, centres[start:start + batch_size], context)).to(device)
        for index, model in enumerate(models):
            maps[index].append(torch.sigmoid(model(inputs))[:, 0].float().cpu().numpy())
    return [np.concatenate(m) for m in maps]


def probability_volume(models, volumes_axial: np.ndarray, brain_axial: np.ndarray, spacing_mm: float,
                       image_size: int, device: torch.device, context: int = CONTEXT_SLICES,
                       margin_mm: float = WINDOW_MARGIN_MM, batch_size: int = 16) -> np.ndarray:
    """Mean fold probability of every voxel, (slices, rows, columns) in axial order; 0 outside the brain.

    Only slices holding brain go through the networks, so the work grows with the brain's extent.
    """
    window = brain_window(brain_axial, spacing_mm, margin_mm)
    slices = window_slices(volumes_axial, window, image_size)
    centres = list(window.slices)
    folds = slice_probabilities(models, slices, centres, context, device, batch_size)
    mean = torch.from_numpy(np.mean(folds, axis=0)[:, None])
    at_window = F.interpolate(mean, size=(window.side, window.side), mode="bilinear", align_corners=False)[:, 0]
    volume = np.zeros(brain_axial.shape, np.float32)
    volume[centres] = uncrop_window(at_window.numpy(), window, brain_axial.shape[1:])
    return np.where(brain_axial, np.clip(volume, 0.0, 1.0), 0.0).astype(np.float32)


def predict_maps(models, case, inputs, image_size: int, device: torch.device, context: int = CONTEXT_SLICES,
                 margin_mm: float = WINDOW_MARGIN_MM) -> LesionMaps:
    """The ensemble's probability map on `case`'s (a T1CE-referenced PreprocessedCase) grid."""
    order = AxialOrder.of(case.brain_mask)
    volumes = order.to_axial(equalised_volumes(case.images, case.brain_mask, inputs))
    brain = order.to_axial(sitk.GetArrayFromImage(case.brain_mask) > 0)
    spacing = float(min(case.brain_mask.GetSpacing()))
    probability = probability_volume(models, volumes, brain, spacing, image_size, device, context, margin_mm)
    return LesionMaps(np.ascontiguousarray(order.from_axial(probability)))
