"""What every task receives from the runner and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import SimpleITK as sitk
import torch

from ..progress import NullProgress
from ..roi import BoxROI


@dataclass
class TaskContext:
    """Inputs of one run: raw validated images, the ROI, the device, shared preprocessing."""

    images: dict[str, sitk.Image]
    roi: BoxROI | None
    device: torch.device
    preprocessed: Callable  # (options dict from a model set) -> PreprocessedCase, cached per reference
    registry: object
    progress: object = field(default_factory=NullProgress)
    # work several tasks of this run need once, e.g. the brain's registration to MNI152 that both
    # metastasis tasks use to place lesions above or below the tentorium
    shared: dict = field(default_factory=dict)


@dataclass
class TaskOutput:
    """A task's entry in result.json, its images (`<task>_<kind>.nii.gz` -> image) and lesion rows."""

    result: dict
    images: dict[str, sitk.Image] = field(default_factory=dict)
    lesions: list[dict] = field(default_factory=list)
    model_set: dict | None = None
