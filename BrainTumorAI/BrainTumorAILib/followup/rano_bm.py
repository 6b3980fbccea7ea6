"""RANO-BM (Lin et al., Lancet Oncol 2015) for brain metastases, and its volumetric variant.

- Measurable: longest diameter >= 10 mm; up to five target lesions (largest first), the other
  baseline lesions are non-targets.
- PR: sum of the targets' longest diameters >= 30 % below baseline; PD: >= 20 % above the
  nadir (smallest sum so far, baseline included) and >= 5 mm more; or a new lesion; CR: every
  lesion gone. A fragmenting lesion counts with its fragments' diameters added (RECIST 1.1).
- New lesions: one of >= 10 mm is progression at once. One under 10 mm is equivocal (Lin 2015:
  follow it; if the next scan confirms it, progression dates back to the scan that first showed
  it): this tool declares PD when the lesion is seen on two consecutive studies, dated to the
  first of them, and otherwise lists it as equivocal without changing the category.
- Steroids and clinical state (CR: off steroids; PR/SD: steroids stable or lower; clinical
  worsening is PD) come from the reader (clinical.py).
- Volumetric variant: the same targets' summed volume, with the thresholds a sphere gives for
  the diameter ones: 0.7^3 -> 65.7 % decrease for PR, 1.2^3 -> 72.8 % increase for PD (no
  absolute minimum).
"""

from __future__ import annotations

from .response import Criterion

MEASURABLE_MM = 10.0

RANO_BM = Criterion(
    name="RANO-BM", measure_name="longest diameter", unit="mm",
    measure=lambda size: size.longest_diameter_mm,
    measurable=lambda size: size.longest_diameter_mm >= MEASURABLE_MM,
    max_targets=5, response_decrease=0.30, progression_increase=0.20, progression_absolute=5.0,
    source="Lin et al., Lancet Oncol 2015")

RANO_BM_VOLUMETRIC = Criterion(
    name="RANO-BM volumetric", measure_name="volume", unit="mm3",
    measure=lambda size: size.volume_mm3,
    measurable=RANO_BM.measurable,
    max_targets=5, response_decrease=1 - 0.7 ** 3, progression_increase=1.2 ** 3 - 1,
    source="Lin et al. 2015 thresholds converted to volume for a sphere")
