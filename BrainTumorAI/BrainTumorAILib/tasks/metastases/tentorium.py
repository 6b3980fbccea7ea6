"""Supra- or infratentorial: the brain registered to MNI152, then a rule in MNI space.

The tentorium cerebelli cannot be seen reliably on one T1CE, so a lesion's side of it is decided
in a standard space: the skull-stripped reference image is registered to nilearn's MNI152 (2009)
T1 template (shipped in the wheel, no download) by a rigid global search and an affine refinement
(Mattes mutual information, SimpleITK), and the lesion centroid, mapped into MNI millimetres, is
tested against the posterior fossa drawn there: the brainstem box and the cerebellum below a
tentorium modelled as a plane rising backwards and falling laterally. The same description of
the posterior fossa places the synthetic phantoms' lesions (synthetic.template), which is what
the tests check the registration against; on real brains its accuracy near the tentorium is
that of an affine fit, a few millimetres.
"""

from __future__ import annotations

import functools

import numpy as np
import SimpleITK as sitk

from ...image import image_from_nifti, lps_to_ras
from ...preprocessing import register_rigid, resampling
from ...preprocessing.registration import RegistrationParameters, coarse_copy, register
from ...preprocessing.transforms import apply, transform_from_matrix, matrix_from_transform

SUPRA, INFRA = "supratentorial", "infratentorial"
REGISTRATION_MM = 3.0     # the posterior fossa is centimetres across: a 3 mm fit is plenty, and fast
RIGID = RegistrationParameters(search_spacing_mm=8.0, refine_spacing_mm=None, sampling_fraction=(0.1,),
                               shrink_factors=(1,), smoothing_mm=(1.0,), iterations=100)
AFFINE = RegistrationParameters(sampling_fraction=(0.2,), shrink_factors=(1,), smoothing_mm=(0.5,),
                                iterations=150, learning_rate=0.5)


def infratentorial_mni(points_ras: np.ndarray) -> np.ndarray:
    """True for MNI RAS points (N, 3) in the posterior fossa: brainstem or below the tentorium."""
    x, y, z = np.asarray(points_ras, dtype=float).reshape(-1, 3).T
    brainstem = (np.abs(x) < 16) & (y > -46) & (y < -10) & (z < -12)
    cerebellum = (y < -40) & (z < -14 + 0.1 * (-40 - y) - 0.12 * np.abs(x))
    return brainstem | cerebellum


@functools.lru_cache(maxsize=1)
def mni_template() -> tuple[sitk.Image, sitk.Image]:
    """nilearn's MNI152 T1 (skull-stripped) and brain mask as LPS images in MNI millimetres, 2 mm."""
    from nilearn import datasets  # slow to import; only needed here

    template, mask = (image_from_nifti(nifti) for nifti in (datasets.load_mni152_template(resolution=2),
                                                             datasets.load_mni152_brain_mask(resolution=2)))
    return template, sitk.Cast(mask > 0, sitk.sitkUInt8)


def _positive_brain(image: sitk.Image, brain_mask: sitk.Image) -> sitk.Image:
    """The brain with intensities made positive (z-scores are not) and 0 outside it: the moments
    that initialise the registration then weigh the brain alone."""
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    inside = sitk.GetArrayViewFromImage(brain_mask) > 0
    low, high = np.percentile(array[inside], [1, 99]) if inside.any() else (0.0, 1.0)
    positive = np.where(inside, 1.0 + np.clip(array, low, high) - low, 0.0).astype(np.float32)
    result = sitk.GetImageFromArray(positive)
    result.CopyInformation(image)
    return result


def register_to_mni(image: sitk.Image, brain_mask: sitk.Image) -> np.ndarray:
    """4x4 LPS matrix mapping points of `image`'s physical space to MNI (LPS) millimetres."""
    template, template_mask = mni_template()
    brain = coarse_copy(_positive_brain(image, brain_mask), REGISTRATION_MM)
    fixed = coarse_copy(template, REGISTRATION_MM)
    mask = resampling.resample_mask(template_mask, fixed)
    # register_rigid gives template -> patient (ITK's fixed-to-moving), with a global orientation search.
    rigid, _ = register_rigid(fixed, brain, RIGID, fixed_mask=mask)
    affine = transform_from_matrix(rigid)
    register(fixed, brain, affine, AFFINE, fixed_mask=mask)
    return np.linalg.inv(matrix_from_transform(affine))


class TentorialLocator:
    """Callable mapping LPS points of the patient's space to "supratentorial"/"infratentorial"."""

    def __init__(self, image: sitk.Image, brain_mask: sitk.Image):
        self.to_mni = register_to_mni(image, brain_mask)

    def __call__(self, points_lps: np.ndarray) -> list[str]:
        mni_ras = lps_to_ras(apply(self.to_mni, np.asarray(points_lps, dtype=float).reshape(-1, 3)))
        return [INFRA if below else SUPRA for below in infratentorial_mni(mni_ras)]
