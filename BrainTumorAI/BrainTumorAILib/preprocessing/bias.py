"""N4 bias-field correction (SimpleITK), fitted on a coarse grid and applied at full resolution."""

from __future__ import annotations

from dataclasses import dataclass

import SimpleITK as sitk

from .grid import shrink_factors
from .head import head_mask


@dataclass(frozen=True)
class N4Parameters:
    """N4 settings. The field is smooth (a final B-spline span of ~5 cm), so it is fitted on a
    ~`fit_spacing_mm` copy: on synthetic heads 8 mm left the same white-matter variation as 4 mm
    at a seventh of the time, and 20 iterations a level the same as 50."""

    fit_spacing_mm: float = 8.0
    iterations: tuple[int, ...] = (20, 20, 20)  # per fitting level; the B-spline mesh doubles each level
    convergence_threshold: float = 1e-3
    control_points: int = 4  # initial mesh: 4 control points per axis = one cubic span
    histogram_bins: int = 200


def n4_correct(image: sitk.Image, parameters: N4Parameters = N4Parameters(),
               mask: sitk.Image | None = None) -> sitk.Image:
    """Divide `image` by its N4-estimated bias field; returns float32 on the input grid.

    `mask` (same grid, non-zero = fit here) defaults to the Otsu head mask of the coarse image.
    """
    image = sitk.Cast(image, sitk.sitkFloat32)
    # N4 works on log intensities: negative values (reconstruction ringing) are clipped.
    positive = sitk.Maximum(image, 0.0)
    factors = shrink_factors(image, parameters.fit_spacing_mm)
    coarse_image = sitk.Shrink(positive, factors)
    coarse_mask = head_mask(coarse_image) if mask is None else sitk.Shrink(sitk.Cast(mask > 0, sitk.sitkUInt8), factors)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(parameters.iterations))
    corrector.SetConvergenceThreshold(parameters.convergence_threshold)
    corrector.SetNumberOfControlPoints([parameters.control_points] * 3)
    corrector.SetNumberOfHistogramBins(parameters.histogram_bins)
    corrector.Execute(coarse_image, coarse_mask)
    log_field = corrector.GetLogBiasFieldAsImage(image)
    return sitk.Cast(positive / sitk.Exp(log_field), sitk.sitkFloat32)
