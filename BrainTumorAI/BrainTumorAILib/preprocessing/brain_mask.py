"""Brain and head masks without downloads: deepbet's bundled network, or an MNI152 template
registered affinely to the head (nilearn ships the template and its brain mask).

Both return a uint8 mask on a 1 mm RAS-aligned grid in the input image's physical space, so
the caller maps it onto any grid through that image's transform.
"""

from __future__ import annotations

import functools

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..image import copy_geometry, image_from_nifti
from . import grid, resampling, transforms
from .registration import RegistrationParameters, register

BRAIN_EXTRACTION_METHODS = ("deepbet", "template", "none")
MASK_SPACING_MM = 1.0


@functools.lru_cache(maxsize=1)
def _deepbet_model():
    # Imported late: deepbet loads torch and its TorchScript weights (bundled in its wheel).
    from deepbet import BrainExtraction

    return BrainExtraction()  # picks CUDA when available, else CPU


def deepbet_brain_mask(image: sitk.Image, threshold: float = 0.5) -> sitk.Image:
    """deepbet (T1-trained U-Net): feed it a 1 mm RAS-ordered array, as its NIfTI front end would."""
    target = grid.axis_aligned_grid(image, MASK_SPACING_MM)
    canonical = resampling.resample(image, target, pixel_type=sitk.sitkFloat32)
    # A (z, y, x) array of a diag(-1, -1, 1) LPS grid is (S, A, R) ordered: transpose to (R, A, S).
    ras_array = np.ascontiguousarray(sitk.GetArrayFromImage(canonical).transpose(2, 1, 0))
    model = _deepbet_model()
    probability = model.run_model(ras_array)
    mask = model.postprocess(probability > threshold)
    return copy_geometry(np.ascontiguousarray(mask.transpose(2, 1, 0)).astype(np.uint8), target)


@functools.lru_cache(maxsize=1)
def _mni_template() -> tuple[sitk.Image, sitk.Image]:
    from nilearn import datasets

    return (image_from_nifti(datasets.load_mni152_template(resolution=1)),
            image_from_nifti(datasets.load_mni152_brain_mask(resolution=1)))


# Similarity first (position, orientation, size), then a full affine (anisotropic size, shear).
# A 2 mm head image is enough for a mask at this accuracy and keeps the cost low.
_SIMILARITY = RegistrationParameters(sampling_fraction=(0.2, 0.2), shrink_factors=(2, 1), smoothing_mm=(4.0, 2.0),
                                     learning_rate=2.0, min_step=1e-3, iterations=150)
_AFFINE = RegistrationParameters(sampling_fraction=(0.2,), shrink_factors=(1,), smoothing_mm=(1.0,),
                                 learning_rate=1.0, min_step=1e-3, iterations=150)


def template_brain_mask(image: sitk.Image) -> sitk.Image:
    """MNI152 brain mask carried onto the head by an affine mutual-information registration."""
    template, template_mask = _mni_template()
    fixed = resampling.resample(image, grid.axis_aligned_grid(image, 2.0), pixel_type=sitk.sitkFloat32)
    similarity = sitk.CenteredTransformInitializer(
        fixed, template, sitk.Similarity3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS)
    register(fixed, template, similarity, _SIMILARITY)
    affine = sitk.AffineTransform(3)
    affine.SetCenter(similarity.GetCenter())
    affine.SetMatrix(similarity.GetMatrix())
    affine.SetTranslation(similarity.GetTranslation())
    register(fixed, template, affine, _AFFINE)
    target = grid.axis_aligned_grid(image, MASK_SPACING_MM)
    return resampling.resample_mask(template_mask, target, transforms.matrix_from_transform(affine))


def extract_brain(image: sitk.Image, method: str) -> sitk.Image:
    """Brain mask (uint8, 1 mm RAS-aligned grid in `image`'s physical space) by `method`."""
    if method == "deepbet":
        mask = deepbet_brain_mask(image)
    elif method == "template":
        mask = template_brain_mask(image)
    else:
        raise ValueError(f"unknown brain extraction {method!r} (use one of {BRAIN_EXTRACTION_METHODS})")
    if not np.any(sitk.GetArrayViewFromImage(mask)):
        raise InputError(f"brain extraction ({method}) found no brain in the image")
    return mask
