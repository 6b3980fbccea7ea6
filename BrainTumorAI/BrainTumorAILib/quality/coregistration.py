"""Are two sequences the same head, aligned? Measured after registration, per sequence against
the view's reference (T1CE):

- the normalised correlation of gradient magnitudes inside the brain: edges (brain surface,
  ventricles, sulci) of one head line up in every contrast, those of another head or of noise
  do not, whatever the intensities (mutual information of a misregistered pair stays high on a
  head-shaped blob);
- the Dice of Otsu head masks where both sequences were imaged: another patient's head has
  another outline.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from ..preprocessing.head import head_mask
from .checks import check, graded
from .view import QualityView

EDGE_SIGMA_MM = 2.0  # scale of the edges compared: the brain's folds, not the noise
# The brain's outline is an edge every head shares after registration: only edges at least this
# far inside count, the anatomy that differs between heads (ventricles, sulci, lesions).
INSIDE_MM = 6.0


def gradient_magnitude(array: np.ndarray, spacing_mm: float) -> np.ndarray:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing([spacing_mm] * 3)
    return sitk.GetArrayFromImage(sitk.GradientMagnitudeRecursiveGaussian(image, EDGE_SIGMA_MM))


def edge_correlation(view: QualityView, name: str) -> float:
    """Pearson correlation of the two gradient magnitudes over the brain imaged by both."""
    interior = ndimage.binary_erosion(view.brain, iterations=max(1, round(INSIDE_MM / view.spacing_mm)))
    inside = interior & view.field_of_view[name] & view.field_of_view[view.reference]
    if inside.sum() < 100:
        return 0.0
    a = gradient_magnitude(view.images[view.reference], view.spacing_mm)[inside]
    b = gradient_magnitude(view.images[name], view.spacing_mm)[inside]
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def head_dice(view: QualityView, name: str) -> float:
    both = view.field_of_view[name] & view.field_of_view[view.reference]
    if both.sum() < 100:
        return 0.0
    masks = []
    for sequence in (view.reference, name):
        image = sitk.GetImageFromArray(np.where(both, view.images[sequence], view.images[sequence][both].min()))
        masks.append(sitk.GetArrayFromImage(head_mask(image)).astype(bool) & both)
    a, b = masks
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 0.0


def coregistration_checks(view: QualityView, thresholds: dict) -> dict[str, dict]:
    """{sequence: {check name: record}} for every sequence but the reference."""
    results = {}
    for name in view.images:
        if name == view.reference:
            continue
        records = {
            "coregistration": _graded(edge_correlation(view, name), thresholds["coregistration_correlation"], {
                "ok": f"{name} edges line up with the {view.reference}",
                "warning": f"{name} edges line up poorly with the {view.reference}: check the registration",
                "failed": f"{name} and {view.reference} are unlikely to be the same head, aligned "
                          f"(another patient, another region, or a registration failure)"}),
            "head_mask_agreement": _graded(head_dice(view, name), thresholds["head_mask_dice"], {
                "ok": f"{name} head outline matches the {view.reference}'s",
                "warning": f"{name} head outline differs from the {view.reference}'s",
                "failed": f"{name} head outline does not match the {view.reference}'s: another head, or not a head"}),
        }
        results[name] = records
    return results


def _graded(value: float, limits: dict, messages: dict) -> dict:
    """A check record of `value` graded by `limits` (warning_below, failed_below), worded by status."""
    status = graded(value, limits["warning_below"], limits["failed_below"])
    return check(status, value, limits["failed_below"], messages[status])
