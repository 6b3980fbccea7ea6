"""Brain metastases with 3D DeepMedic and a five-fold vote (Jünger 2021): tiled inference.

The preprocessed T1CE-referenced volume (skull-stripped, 1 mm, z-scored) is covered by output
blocks over the brain's bounding box; blocks without brain are skipped, so the work grows with
the brain's volume, not the field of view's. Each block's input cube (the normal pathway's
segment plus the context pathway's margin) goes through every fold model; probabilities are
kept inside the brain mask. The fold masks are fused by majority vote in `mets_common`.

Segment sizes: the context pathway sees the volume in 3x3x3 cells and repeats its output over
them, so a block's map depends on where its cells fall. Blocks whose side is an odd multiple of
3 (segments 25, 43, 49, ..., 79), started on a global multiple-of-3 lattice, all put the cells
in the same place, and the map is then the same whatever the segment size. Jünger 2021's 45^3
segments (29^3 blocks) would shift the cells from block to block, so the nearest such size,
43^3, stands for it; larger segments give the identical map faster on a CPU.

The tiling is written here rather than with MONAI's `sliding_window_inference`, because
DeepMedic's valid convolutions give an output block smaller than its input cube and its
context pathway needs a margin of 3 x 8 voxels; MONAI's inferer expects outputs the size of
(or a fixed zoom of) the window. Because the convolutions are valid and batch-norm is frozen
at inference, the segment size changes only the speed, never the map (tested).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ...networks.deepmedic import fused_for_inference, input_size
from ..metastases.common import LesionMaps

TASK = "mets-3d"
PAPER_SEGMENT = 43    # Jünger 2021 inferred on 45^3 segments; 43^3 is the nearest cell-aligned size
DEFAULT_SEGMENT = 79  # the same map as 43^3 segments, about twice as fast on a CPU
SHRINK = 16           # a DeepMedic pathway's output is 16 voxels smaller than its segment
CELL = 3              # the context pathway's down-sampling factor


def output_block(segment_size: int) -> int:
    """The output block of a normal-pathway segment (43 -> 27); an odd multiple of 3."""
    block = segment_size - SHRINK
    if block < CELL or block % (2 * CELL) != CELL:
        raise ValueError(f"DeepMedic segments must be {SHRINK} + an odd multiple of {CELL} "
                         f"(25, 43, 49, ..., 79), got {segment_size}")
    return block


def block_starts(brain: np.ndarray, block: int) -> list[tuple[int, int, int]]:
    """Corners (z, y, x) of the output blocks that tile the brain's bounding box and hold brain,
    on a lattice of multiples of 3 (see the module docstring)."""
    inside = np.argwhere(brain)
    if inside.size == 0:
        return []
    low, high = inside.min(axis=0), inside.max(axis=0) + 1
    low -= low % CELL
    ranges = [range(int(lo), int(hi), block) for lo, hi in zip(low, high)]
    return [start for start in itertools.product(*ranges)
            if brain[start[0]:start[0] + block, start[1]:start[1] + block, start[2]:start[2] + block].any()]


@torch.inference_mode()
def fold_probabilities(models, volume: np.ndarray, brain: np.ndarray, segment_size: int = DEFAULT_SEGMENT,
                       device: torch.device = torch.device("cpu"), batch_size: int = 2) -> np.ndarray:
    """Sigmoid probabilities of every fold model, shape (n_folds, Z, Y, X), zero outside the brain.

    `volume`: (channels, Z, Y, X) network inputs on the reference grid; `brain`: (Z, Y, X) mask.
    """
    block = output_block(segment_size)
    side = input_size(block)
    margin = (side - block) // 2
    _, nz, ny, nx = volume.shape
    # Zeros around the volume (the skull-stripped background) give every block its full cube.
    padded = np.pad(volume.astype(np.float32, copy=False),
                    [(0, 0)] + [(margin, margin + block)] * 3)
    result = np.zeros((len(models), nz + block, ny + block, nx + block), np.float32)
    models = [fused_for_inference(model) for model in models]
    starts = block_starts(brain > 0, block)
    for first in range(0, len(starts), batch_size):
        batch = starts[first:first + batch_size]
        cubes = np.stack([padded[:, z:z + side, y:y + side, x:x + side] for z, y, x in batch])
        inputs = torch.from_numpy(cubes).to(device).contiguous(memory_format=torch.channels_last_3d)
        for index, model in enumerate(models):
            probability = torch.sigmoid(model(inputs, block)).float().cpu().numpy()[:, 0]
            for (z, y, x), values in zip(batch, probability):
                result[index, z:z + block, y:y + block, x:x + block] = values
    return result[:, :nz, :ny, :nx] * (brain > 0)


def predict_maps(models, volume: np.ndarray, brain: np.ndarray, segment_size: int = DEFAULT_SEGMENT,
                 device: torch.device = torch.device("cpu")) -> LesionMaps:
    """The ensemble's mean map and, with several folds, the per-fold maps for the majority vote."""
    folds = fold_probabilities(models, volume, brain, segment_size, device)
    return LesionMaps(probability=folds.mean(axis=0), fold_probabilities=list(folds) if len(folds) > 1 else None)
