"""Preprocessing: N4 bias correction, rigid co-registration, 1 mm resampling, brain extraction,
WhiteStripe / z-score normalisation and per-slice histogram equalisation.

`preprocess(images, options)` gives a `PreprocessedCase` in one reference space; `Preprocessor`
shares the work between reference spaces; `to_input_grid` maps results back onto an input's grid.
"""

from .bias import N4Parameters, n4_correct
from .brain_mask import extract_brain
from .head import head_mask
from .case import PreprocessedCase
from .histogram import equalise_histogram_per_slice
from .normalisation import normalise, whitestripe, zscore
from .options import SEQUENCES, PreprocessOptions
from .pipeline import Preprocessor, preprocess
from .registration import RegistrationParameters, register_rigid
from .resampling import resample, resample_mask, to_input_grid
from .transforms import registration_error_mm

__all__ = [
    "N4Parameters", "PreprocessOptions", "PreprocessedCase", "Preprocessor", "RegistrationParameters",
    "SEQUENCES", "equalise_histogram_per_slice", "extract_brain", "head_mask", "n4_correct", "normalise",
    "preprocess", "register_rigid", "registration_error_mm", "resample", "resample_mask", "to_input_grid",
    "whitestripe", "zscore",
]
