"""Synthetic multi-contrast heads (T1, T1CE, T2, FLAIR) with known truth: demo, tests, demo weights.

Real anatomy (nilearn's MNI152 maps) with a synthetic skull and scalp; lesions of every class
the product handles; clinical acquisition geometry (per-sequence head motion, oblique slices,
thick 2D slices), bias fields and noise. See `make_case` for the files of a case.
"""

from .case import make_case
from .cohort import make_cohort
from .kinds import GBM_MET_LABEL_OF_KIND, KINDS, TUMOUR_TYPE_OF_KIND
from .truth import GENERATOR_VERSION, load_truth, true_transform

__all__ = [
    "GBM_MET_LABEL_OF_KIND", "GENERATOR_VERSION", "KINDS", "TUMOUR_TYPE_OF_KIND", "load_truth", "make_case",
    "make_cohort", "true_transform",
]
