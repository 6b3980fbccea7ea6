"""Training cases of the metastasis tasks: preprocessed once, with the true lesion mask beside them.

The true lesions: a synthetic case's lesion-id map (truth/lesions_t1ce.nii.gz, labelled tumours
only, white-matter distractors excluded); otherwise the case's segmentation, whose tumour core
(BraTS labels 1 necrosis / non-enhancing core, 3 or 4 enhancing) is the metastasis as Grøvik
2020 and Jünger 2021 delineate it; oedema (2) is not. Both live in the T1CE input's space, the
physical space of the T1CE-referenced grid, so they are resampled onto it with nearest neighbour
(which keeps one-voxel lesions).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ...errors import InputError
from ...image import read_image
from ...preprocessing import PreprocessOptions, preprocess, resample
from ...training.cases import Case

LESION_LABELS = (1, 3, 4)  # BraTS tumour core: necrosis / non-enhancing core and enhancing tumour
SYNTHETIC_LESIONS = Path("truth") / "lesions_t1ce.nii.gz"


@dataclass
class LesionCase:
    """A case on its preprocessed reference grid: images, brain and true lesion mask as (z, y, x)."""

    case_id: str
    images: dict[str, np.ndarray]  # float32
    brain: np.ndarray  # bool
    truth: np.ndarray  # bool
    spacing: tuple[float, float, float]  # mm, (x, y, z) as SimpleITK gives it

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed), so concurrent writers cannot leave half a file."""
        path = Path(path)
        temporary = path.with_name(f".{path.stem}-{uuid.uuid4().hex}.npz")
        try:
            np.savez_compressed(temporary, brain=self.brain, truth=self.truth, spacing=np.asarray(self.spacing),
                                **{f"image_{k}": v.astype(np.float16) for k, v in self.images.items()})
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, case_id: str) -> "LesionCase":
        with np.load(path) as data:
            images = {k[len("image_"):]: data[k].astype(np.float32) for k in data.files if k.startswith("image_")}
            return cls(case_id, images, data["brain"], data["truth"], tuple(float(v) for v in data["spacing"]))


def truth_image(case: Case) -> sitk.Image:
    """The case's true lesion mask (uint8 0/1) in its own geometry."""
    synthetic = case.truth.parent / SYNTHETIC_LESIONS if case.truth is not None else None
    if synthetic is not None and synthetic.is_file():
        return sitk.Cast(read_image(synthetic, f"{case.case_id} lesions") > 0, sitk.sitkUInt8)
    if case.seg is None:
        raise InputError(f"case {case.case_id}: metastasis training needs a segmentation (seg)")
    seg = sitk.GetArrayFromImage(read_image(case.seg, f"{case.case_id} seg"))
    mask = sitk.GetImageFromArray(np.isin(seg, LESION_LABELS).astype(np.uint8))
    mask.CopyInformation(read_image(case.seg, f"{case.case_id} seg"))
    return mask


def prepare_lesion_case(case: Case, options: PreprocessOptions, sequences: tuple[str, ...]) -> LesionCase:
    """Preprocess `sequences` of the case in `options.reference`'s space and put its truth there."""
    if "t1ce" not in sequences:
        raise ValueError("metastasis cases are prepared with their T1CE (the truth is drawn on it)")
    missing = [s for s in sequences if s not in case.sequences]
    if missing:
        raise InputError(f"case {case.case_id}: missing {', '.join(missing)}")
    images = {s: read_image(case.sequences[s], f"{case.case_id} {s}") for s in sequences}
    prepared = preprocess(images, options)
    grid = prepared.brain_mask
    # The truth is drawn on the T1CE input: reference points map to it through transforms["t1ce"].
    truth = resample(truth_image(case), grid, prepared.transforms["t1ce"], sitk.sitkNearestNeighbor, sitk.sitkUInt8)
    return LesionCase(
        case_id=case.case_id,
        images={s: sitk.GetArrayFromImage(prepared.images[s]).astype(np.float32) for s in sequences},
        brain=sitk.GetArrayFromImage(grid) > 0,
        truth=sitk.GetArrayFromImage(truth) > 0,
        spacing=tuple(float(v) for v in grid.GetSpacing()),
    )
