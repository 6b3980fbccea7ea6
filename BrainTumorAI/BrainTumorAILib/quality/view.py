"""The case as the quality checks see it: every sequence on one coarse grid of the T1CE (the
registration hub's usual choice), z-scored inside the brain, with each sequence's field of view.

It reuses the Preprocessor's N4, registration and brain mask (computed once per case), so the
checks judge exactly the alignment and the mask the tasks used, for the price of a resampling.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..preprocessing import resampling
from ..progress import NullProgress

SPACING_MM = 2.0  # fine enough for edges and tissue classes, cheap enough for every run


@dataclass
class QualityView:
    reference: str
    images: dict[str, np.ndarray]  # (z, y, x) z-scored inside the brain; 0 outside a field of view
    brain: np.ndarray  # bool
    field_of_view: dict[str, np.ndarray]  # bool: where each sequence was imaged
    spacing_mm: float


def quality_view(preprocessor, spacing_mm: float = SPACING_MM) -> QualityView:
    """Resample the preprocessor's corrected, registered sequences and brain mask for the checks."""
    reference = "t1ce" if "t1ce" in preprocessor.images else "t2"
    options = dataclasses.replace(preprocessor.options, reference=reference, resample_mm=spacing_mm,
                                  normalisation="zscore", histogram_equalisation=False, mask_images=False)
    # the run's progress has passed preprocessing: this resampling must not report it again from 0
    reporting, preprocessor.progress = preprocessor.progress, NullProgress()
    try:
        case = preprocessor.case(options=options)
    finally:
        preprocessor.progress = reporting
    grid = case.brain_mask
    field_of_view = {}
    for name, image in preprocessor.images.items():
        imaged = sitk.Image(image.GetSize(), sitk.sitkUInt8) + 1
        imaged.CopyInformation(image)
        inside = resampling.resample(imaged, grid, case.transforms[name], sitk.sitkNearestNeighbor)
        field_of_view[name] = sitk.GetArrayFromImage(inside) > 0
    return QualityView(reference=reference,
                       images={name: sitk.GetArrayFromImage(image) for name, image in case.images.items()},
                       brain=sitk.GetArrayFromImage(case.brain_mask) > 0, field_of_view=field_of_view,
                       spacing_mm=spacing_mm)
