"""Size limits on input volumes, checked before any preprocessing.

A header can claim anything: a 10 mm spacing written on a 1 mm array makes a 3 m head that
registration chews on for minutes, a 0.1 mm spacing a 5 mm "head" that crashes N4, a huge grid
exhausts the memory. Each limit is named in the refusal with the option that overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from .errors import InputError


@dataclass(frozen=True)
class InputLimits:
    # 2^27 float32 voxels are 512 MiB per copy; a 0.5 mm whole-head 3D scan is about 2^26.
    max_voxels: int = 2**27
    # An adult head is about 200 mm long; a neck-to-vertex field of view stays under 400 mm.
    max_extent_mm: float = 500.0
    # N4's coarse fit and brain extraction need a few centimetres of head per axis (N4 failed at
    # 4.8 mm and ran at 24 mm on synthetic blocks).
    min_extent_mm: float = 20.0
    # Clinical brain MRI is not finer than ~0.2 mm; below that the header is wrong.
    min_spacing_mm: float = 0.2


def check_limits(image: sitk.Image, name: str, limits: InputLimits = InputLimits()) -> None:
    """Raise InputError naming the exceeded limit and the option that raises it."""
    size = np.array(image.GetSize(), dtype=float)
    spacing = np.array(image.GetSpacing(), dtype=float)
    extent = size * spacing
    voxels = int(np.prod(size))
    shown = "x".join(f"{v:g}" for v in np.round(extent, 1))
    if voxels > limits.max_voxels:
        raise InputError(f"{name}: {voxels} voxels {tuple(image.GetSize())} exceed the limit of {limits.max_voxels} "
                         f"(--max-voxels)")
    if spacing.min() < limits.min_spacing_mm:
        raise InputError(f"{name}: spacing {spacing.min():g} mm is below the limit of {limits.min_spacing_mm:g} mm "
                         f"(--min-spacing-mm): a wrong header?")
    if extent.max() > limits.max_extent_mm:
        raise InputError(f"{name}: field of view {shown} mm exceeds the limit of {limits.max_extent_mm:g} mm "
                         f"(--max-extent-mm): a wrong spacing in the header?")
    if extent.min() < limits.min_extent_mm:
        raise InputError(f"{name}: field of view {shown} mm is below the limit of {limits.min_extent_mm:g} mm "
                         f"per axis (--min-extent-mm): too little of the head to process")
