"""Preprocessing options: which steps run, the reference space, and the numeric settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import InputError
from .bias import N4Parameters
from .brain_mask import BRAIN_EXTRACTION_METHODS
from .registration import RegistrationParameters

SEQUENCES = ("t1ce", "t2", "flair", "t1")
REFERENCES = ("t1ce", "t2")
NORMALISATIONS = ("auto", "whitestripe", "zscore", "none")

# "auto" follows the paper behind each reference space: WhiteStripe for the T2 space
# (Shin 2021, GBM vs metastasis), z-score for the T1CE space (Jünger 2021, metastases).
_PAPER_NORMALISATION = {"t2": "whitestripe", "t1ce": "zscore"}


@dataclass(frozen=True)
class PreprocessOptions:
    """Every step can be switched off; `resample_mm=None` keeps the reference input's grid."""

    reference: str = "t1ce"
    bias_correction: bool = True
    registration: bool = True
    resample_mm: float | None = 1.0
    # deepbet: a learnt extractor that follows each head's own anatomy, where an affine
    # template can only follow its outline (see README's preprocessing section for measurements).
    brain_extraction: str = "deepbet"
    normalisation: str = "auto"
    histogram_equalisation: bool = False  # per axial slice, for the 2.5D network (Grøvik 2020)
    mask_images: bool = False  # set voxels outside the brain to 0 (skull stripping)
    n4: N4Parameters = field(default_factory=N4Parameters)
    rigid: RegistrationParameters = field(default_factory=RegistrationParameters)

    def __post_init__(self):
        if self.reference not in REFERENCES:
            raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got '{self.reference}'")
        if self.brain_extraction not in BRAIN_EXTRACTION_METHODS:
            raise InputError(f"brain extraction must be one of {', '.join(BRAIN_EXTRACTION_METHODS)}, "
                             f"got '{self.brain_extraction}'")
        if self.normalisation not in NORMALISATIONS:
            raise InputError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got '{self.normalisation}'")
        if self.resample_mm is not None and not self.resample_mm > 0:
            raise InputError(f"resample_mm must be positive, got {self.resample_mm}")

    @property
    def normalisation_method(self) -> str:
        """The normalisation that runs ("auto" resolved for this reference)."""
        return _PAPER_NORMALISATION[self.reference] if self.normalisation == "auto" else self.normalisation

    def for_reference(self, reference: str) -> "PreprocessOptions":
        return dataclasses.replace(self, reference=reference)

    def to_json(self) -> dict:
        """A JSON-ready dict (tuples as lists, "auto" resolved); `from_json` reads it back."""
        data = dataclasses.asdict(self)
        data["normalisation"] = self.normalisation_method
        return _lists(data)

    @classmethod
    def from_json(cls, data: dict) -> "PreprocessOptions":
        data = dict(data)
        n4 = N4Parameters(**_tuples(data.pop("n4", {})))
        rigid = RegistrationParameters(**_tuples(data.pop("rigid", {})))
        return cls(n4=n4, rigid=rigid, **data)


def _lists(value):
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    return value


def _tuples(data: dict) -> dict:
    return {key: tuple(item) if isinstance(item, list) else item for key, item in data.items()}
