"""Independent test cohorts: phantoms acquired with settings the training phantoms never had.

A demo model set is trained on `make_cohort` phantoms, whose T1CE is a near-axial 3D
acquisition. To test it the way the papers tested theirs (an independent cohort), the T1CE of
freshly generated phantoms (other seeds) is acquired again in another way: a sagittal or coronal
3D volume, or an axial 2D one with 3 mm slices, tilted by 5-20 degrees, with a stronger bias
field, another contrast (a gamma on the intensities) and noise. The T1CE's truth (lesion ids,
BraTS labels, brain mask) is resampled onto the new grid by nearest neighbour in physical space,
so the truth is what that grid can show (a lesion thinner than a 3 mm slice may fall between
slices and leave the truth too). T2 and FLAIR keep their own acquisitions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from ..image import read_image, write_image
from .case import make_case

VARIANTS = {
    # name: (voxel axes as LPS unit columns before the tilt, spacing mm, slice thickness mm)
    "sagittal_3d": (((0, 1, 0), (0, 0, -1), (1, 0, 0)), (1.0, 1.0, 1.1), 1.1),
    "coronal_3d": (((1, 0, 0), (0, 0, -1), (0, 1, 0)), (0.95, 0.95, 1.2), 1.2),
    "axial_2d_3mm": (((1, 0, 0), (0, 1, 0), (0, 0, 1)), (0.9, 0.9, 3.0), 3.0),
}
TRUTH_FILES = ("truth/lesions_t1ce.nii.gz", "truth/seg_t1ce.nii.gz", "truth/brain_t1ce.nii.gz")


def _grid(image: sitk.Image, variant: str, rng: np.random.Generator) -> sitk.Image:
    """A grid of the variant's orientation (tilted 5-20 degrees) covering `image`'s field of view."""
    axes, spacing, _ = VARIANTS[variant]
    axis = rng.normal(size=3)
    tilt = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.deg2rad(rng.uniform(5.0, 20.0))).as_matrix()
    direction = tilt @ np.array(axes, float).T
    size = np.array(image.GetSize())
    corners = np.array([image.TransformContinuousIndexToPhysicalPoint([float(c) for c in corner])
                        for corner in np.array(np.meshgrid(*[[0, n - 1] for n in size], indexing="ij")).reshape(3, -1).T])
    frame = corners @ direction
    low, high = frame.min(axis=0), frame.max(axis=0)
    grid = sitk.Image([int(n) for n in np.ceil((high - low) / spacing) + 1], sitk.sitkUInt8)
    grid.SetSpacing(spacing)
    grid.SetDirection(direction.ravel().tolist())
    grid.SetOrigin((direction @ low).tolist())
    return grid


def _thick_slices(image: sitk.Image, grid: sitk.Image, thickness: float) -> sitk.Image:
    """`image` on `grid`, averaged across each slice's thickness (three sub-slices)."""
    slice_axis = np.array(grid.GetDirection()).reshape(3, 3)[:, 2]
    samples = []
    for offset in (-thickness / 3.0, 0.0, thickness / 3.0) if thickness > 1.5 else (0.0,):
        shifted = sitk.TranslationTransform(3, (slice_axis * offset).tolist())
        samples.append(sitk.GetArrayFromImage(sitk.Resample(image, grid, shifted, sitk.sitkLinear, 0.0,
                                                            sitk.sitkFloat32)))
    out = sitk.GetImageFromArray(np.mean(samples, axis=0).astype(np.float32))
    out.CopyInformation(grid)
    return out


def _contrast(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another scanner's look: a gamma on the intensities, a stronger smooth bias, more noise."""
    scale = float(np.percentile(array, 99.5)) or 1.0
    relative = np.clip(array / scale, 0.0, None) ** rng.uniform(0.75, 1.3)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in array.shape], indexing="ij")
    bias = np.exp(rng.uniform(-0.25, 0.25) * x + rng.uniform(-0.25, 0.25) * y + rng.uniform(-0.2, 0.2) * z
                  + rng.uniform(-0.15, 0.15) * (x * x - y * y))
    noisy = relative * bias + rng.normal(0.0, rng.uniform(0.01, 0.03), array.shape)
    return np.clip(np.rint(np.abs(noisy) * rng.uniform(300.0, 3000.0)), 0, 32767).astype(np.int16)


def reacquire_t1ce(case_dir, variant: str, seed: int) -> None:
    """Replace the case's T1CE and its truth images by the variant's acquisition (in place)."""
    case_dir = Path(case_dir)
    rng = np.random.default_rng([int(seed), len(variant)])
    t1ce = read_image(case_dir / "t1ce.nii.gz", "t1ce")
    grid = _grid(t1ce, variant, rng)
    thickness = VARIANTS[variant][2]
    acquired = _thick_slices(sitk.Cast(t1ce, sitk.sitkFloat32), grid, thickness)
    image = sitk.GetImageFromArray(_contrast(sitk.GetArrayFromImage(acquired), rng))
    image.CopyInformation(grid)
    write_image(image, case_dir / "t1ce.nii.gz")
    for name in TRUTH_FILES:
        truth = read_image(case_dir / name, name)
        write_image(sitk.Resample(truth, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0, truth.GetPixelID()),
                    case_dir / name)
    record = case_dir / "truth.json"
    truth = json.loads(record.read_text())
    truth.setdefault("notes", []).append(f"T1CE re-acquired as {variant} (synthetic.reacquisition), seed {seed}")
    truth["sequences"]["t1ce"].update({"reacquisition": variant, "spacing": list(grid.GetSpacing()),
                                       "slice_thickness_mm": thickness,
                                       "origin_lps": list(grid.GetOrigin()), "direction": list(grid.GetDirection()),
                                       "size": list(grid.GetSize())})
    record.write_text(json.dumps(truth, indent=2))


def make_independent_cohort(out_dir, kinds, n_per_kind: int, seed: int, voxel_mm: float = 1.0) -> list[Path]:
    """Phantoms of other seeds whose T1CE is re-acquired, the variants taken in turn; the cases
    without a variant (every fourth) keep the generator's own near-axial 3D T1CE."""
    out_dir = Path(out_dir)
    names = [*VARIANTS, None]
    folders = []
    for index in range(n_per_kind):
        for k, kind in enumerate(kinds):
            case_seed = seed * 100 + index
            folder = make_case(out_dir, kind, case_seed, voxel_mm)
            variant = names[(index + k) % len(names)]  # every kind meets every variant
            if variant is not None:
                reacquire_t1ce(folder, variant, case_seed)
            folders.append(folder)
    return folders
