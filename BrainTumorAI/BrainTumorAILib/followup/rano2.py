"""RANO 2.0 (Wen et al., J Clin Oncol 2023) for glioma, on the enhancing tumour.

- Measurable: both diameters (longest and perpendicular on one axial slice) >= 10 mm; up to
  three target lesions (largest product first).
- PR: sum of the targets' bidimensional products >= 50 % below baseline; PD: >= 25 % above the
  nadir, or a new measurable lesion; CR: all enhancing disease gone. A new lesion under the
  measurable size is PD once a second consecutive study confirms it (as for RANO-BM here).
- Volumetric thresholds of RANO 2.0: PR >= 65 % decrease, PD >= 40 % increase of the summed volume.
- Steroids and clinical state come from the reader (clinical.py); RANO 2.0's non-enhancing
  (T2/FLAIR) assessment needs a segmentation of that compartment, which the tasks here do not
  produce: it is left to the reader as the non-target progression item.
"""

from __future__ import annotations

from .response import Criterion

MEASURABLE_MM = 10.0


def _measurable(size) -> bool:
    return size.longest_diameter_mm >= MEASURABLE_MM and size.perpendicular_diameter_mm >= MEASURABLE_MM


RANO2 = Criterion(
    name="RANO 2.0", measure_name="bidimensional product", unit="mm2",
    measure=lambda size: size.product_mm2, measurable=_measurable,
    max_targets=3, response_decrease=0.50, progression_increase=0.25,
    source="Wen et al., J Clin Oncol 2023")

RANO2_VOLUMETRIC = Criterion(
    name="RANO 2.0 volumetric", measure_name="volume", unit="mm3",
    measure=lambda size: size.volume_mm3, measurable=_measurable,
    max_targets=3, response_decrease=0.65, progression_increase=0.40,
    source="Wen et al., J Clin Oncol 2023")
