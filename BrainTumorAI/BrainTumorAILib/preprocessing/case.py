"""A preprocessed case: images and brain mask on the reference's isotropic grid, the transforms
back to every input, and `preprocessing.json` (written and read back)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import InputError
from ..image import read_image, write_image
from .grid import geometry

JSON_NAME = "preprocessing.json"
MASK_NAME = "brain_mask.nii.gz"
FORMAT = "braintumorai-preprocessing/1"
CONVENTIONS = (
    "All coordinates are LPS mm (ITK), not RAS. transforms[s]: 4x4 row-major matrix, ITK "
    "fixed-to-moving: maps a physical point of the reference input to the same anatomical point "
    "in the input of sequence s (identity for the reference). grid and input_geometry: origin "
    "LPS mm, direction row-major 3x3 (columns are the index axes), spacing mm, size in voxels."
)


@dataclass
class PreprocessedCase:
    """Sequences (float32) and brain mask (uint8) on one grid: the reference input's direction and
    field of view at the preprocessing spacing."""

    reference: str
    images: dict[str, sitk.Image]
    brain_mask: sitk.Image
    transforms: dict[str, np.ndarray]
    input_geometry: dict[str, dict]
    reference_image: sitk.Image | None = None  # the reference input itself (None when read from disk)
    parameters: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)

    @property
    def grid(self) -> dict:
        return geometry(self.brain_mask)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "coordinate_system": "LPS",
            "conventions": CONVENTIONS,
            "reference": self.reference,
            "sequences": list(self.images),
            "transforms": {name: np.asarray(matrix, float).tolist() for name, matrix in self.transforms.items()},
            "grid": self.grid,
            "input_geometry": self.input_geometry,
            "parameters": self.parameters,
            "timings_s": self.timings_s,
        }

    def write(self, out_dir) -> Path:
        """Write `<sequence>.nii.gz`, `brain_mask.nii.gz` and, last, `preprocessing.json`."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, image in self.images.items():
            write_image(image, out_dir / f"{name}.nii.gz")
        write_image(self.brain_mask, out_dir / MASK_NAME)
        path = out_dir / JSON_NAME
        tmp = out_dir / f".tmp-{uuid.uuid4().hex}.json"
        try:
            tmp.write_text(json.dumps(self.to_json(), indent=2))
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def read(cls, directory) -> "PreprocessedCase":
        """Read a folder written by `write` (without the reference input image)."""
        directory = Path(directory)
        path = directory / JSON_NAME
        if not path.is_file():
            raise InputError(f"no {JSON_NAME} in {directory}: not a preprocessed case")
        data = json.loads(path.read_text())
        return cls(
            reference=data["reference"],
            images={name: read_image(directory / f"{name}.nii.gz", name) for name in data["sequences"]},
            brain_mask=read_image(directory / MASK_NAME, "brain_mask"),
            transforms={name: np.array(matrix, float) for name, matrix in data["transforms"].items()},
            input_geometry=data["input_geometry"],
            parameters=data["parameters"],
            timings_s=data["timings_s"],
        )
