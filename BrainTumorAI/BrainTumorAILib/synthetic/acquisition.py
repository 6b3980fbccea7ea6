"""Acquiring one sequence of a phantom head as a scanner would.

Each sequence has its own head position (a rigid world-to-scanner transform, up to 10 degrees
and 15 mm), its own slightly oblique slice prescription and voxel size, and a field of view
that covers the head. 3D sequences (T1, T1CE) are near-isotropic; 2D sequences (T2, FLAIR)
have thick slices, simulated by averaging thin sub-slices with a soft slice profile. Then a
smooth multiplicative bias field, Rician noise and an arbitrary global scale (int16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from ..preprocessing.transforms import apply, rigid_parameters, transform_from_matrix
from .head import Head
from .lesions import CORE_LEVEL, MASS_LEVEL, OEDEMA_LEVEL, RenderedLesion

MAX_ROTATION_DEG = 10.0
MAX_SHIFT_MM = 15.0
THREE_D = ("t1", "t1ce")
SUBSLICES = 3  # thin slices per thick 2D slice: odd, so the middle one is the slice centre


@dataclass(frozen=True, eq=False)
class Grid:
    """A sampling grid in scanner space (LPS): origin, spacing (x, y, z), direction, size."""

    origin: np.ndarray
    spacing: np.ndarray
    direction: np.ndarray   # columns are the voxel axes
    size: np.ndarray        # (x, y, z)

    def continuous_index(self, points_scanner: np.ndarray) -> np.ndarray:
        return (points_scanner - self.origin) @ self.direction / self.spacing

    def physical(self, index) -> np.ndarray:
        return self.origin + (np.asarray(index, dtype=float) * self.spacing) @ self.direction.T

    def box(self, lo, hi) -> "Grid":
        """The sub-grid of voxels lo..hi (inclusive, x, y, z)."""
        return Grid(self.physical(lo), self.spacing, self.direction, np.asarray(hi) - lo + 1)

    def empty(self, pixel_type=sitk.sitkUInt8) -> sitk.Image:
        image = sitk.Image([int(n) for n in self.size], pixel_type)
        image.SetOrigin(self.origin.tolist())
        image.SetSpacing(self.spacing.tolist())
        image.SetDirection(self.direction.ravel().tolist())
        return image


@dataclass(frozen=True, eq=False)
class Acquisition:
    sequence: str
    grid: Grid                  # the output voxels
    slice_thickness_mm: float
    subslices: int              # thin slices averaged into one (1 for 3D)
    world_to_scanner: np.ndarray
    rotation_deg: float
    shift_mm: float
    noise: float                # Rician sigma relative to grey matter
    bias: np.ndarray            # (3, 3, 3) Legendre coefficients of the log bias field
    scale: float                # arbitrary units per relative unit

    @property
    def three_d(self) -> bool:
        return self.subslices == 1

    def sample_grid(self) -> Grid:
        """The output grid, with each thick slice split into `subslices` thin ones."""
        n = self.subslices
        spacing = self.grid.spacing / [1.0, 1.0, n]
        first = self.grid.origin - self.grid.direction[:, 2] * self.slice_thickness_mm * (n - 1) / (2 * n)
        return Grid(first, spacing, self.grid.direction, self.grid.size * [1, 1, n])


def _rigid(rng, max_angle_deg, min_angle_deg=0.0):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(min_angle_deg, max_angle_deg)
    return Rotation.from_rotvec(axis * np.deg2rad(angle)).as_matrix(), angle


# Acquisitions the default protocol never makes, for independent test cohorts: name ->
# (voxel axes as LPS unit columns before a 5-20 degree tilt, spacing in voxel_mm units, 2D?,
# bias-field strength factor). "axial" 2D variants stay within 20 degrees of axial.
VARIANTS = {
    "sagittal_2d": (((0, 1, 0), (0, 0, -1), (1, 0, 0)), (0.9, 0.9, 4.0), True, 2.0),
    "coronal_2d": (((1, 0, 0), (0, 0, -1), (0, 1, 0)), (0.9, 0.9, 5.0), True, 2.0),
    "axial_2d_6mm": (((1, 0, 0), (0, 1, 0), (0, 0, 1)), (0.8, 0.8, 6.0), True, 2.5),
    "axial_3d": (((1, 0, 0), (0, 1, 0), (0, 0, 1)), (1.0, 1.0, 1.0), False, 2.0),
    "sagittal_3d": (((0, 1, 0), (0, 0, -1), (1, 0, 0)), (1.0, 1.0, 1.1), False, 2.0),
    "coronal_3d": (((1, 0, 0), (0, 0, -1), (0, 1, 0)), (0.95, 0.95, 1.2), False, 2.0),
    "axial_2d_3mm": (((1, 0, 0), (0, 1, 0), (0, 0, 1)), (0.9, 0.9, 3.0), True, 2.5),
}


def _variant(rng, variant: str, voxel_mm: float):
    """Direction, spacing, sub-slices and bias factor of a named variant (drawn after the
    default protocol's draws, so cases without a variant are unchanged)."""
    axes, spacing, two_d, bias_factor = VARIANTS[variant]
    max_tilt = 15.0 if variant.startswith("axial") else 20.0
    tilt, _ = _rigid(rng, max_tilt, 5.0)
    direction = tilt @ np.array(axes, dtype=float).T
    return direction, np.round(np.array(spacing) * voxel_mm, 3), SUBSLICES if two_d else 1, bias_factor


def sample_acquisition(rng: np.random.Generator, sequence: str, voxel_mm: float, head: Head,
                       pose: np.ndarray | None = None, variant: str | None = None) -> Acquisition:
    """Random protocol, head position and field of view for one sequence; `pose` (a 4x4 world-to-scanner
    matrix) fixes the head position instead (a follow-up study's, see followup.py); `variant` (a
    VARIANTS name) replaces the plane, voxel size and slice profile, and strengthens the bias field."""
    if sequence in THREE_D:
        spacing = np.array([rng.uniform(0.9, 1.0)] * 2 + [rng.uniform(1.0, 1.2)]) * voxel_mm
        subslices = 1
    else:
        spacing = np.array([rng.uniform(0.85, 1.0)] * 2 + [rng.uniform(3.0, 5.0)]) * voxel_mm
        subslices = SUBSLICES
    spacing = np.round(spacing, 3)
    if pose is None:
        rotation, angle = _rigid(rng, MAX_ROTATION_DEG)
        shift_direction = rng.normal(size=3)
        shift = shift_direction / np.linalg.norm(shift_direction) * rng.uniform(0.0, MAX_SHIFT_MM)
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = rotation, shift
    else:
        pose = np.asarray(pose, dtype=float)
        angle = rigid_parameters(pose)["rotation_deg"]
        shift = pose[:3, 3]
    direction, _ = _rigid(rng, 6.0, 1.5)  # an oblique prescription, a few degrees off axial
    bias_factor = 1.0
    if variant is not None:
        direction, spacing, subslices, bias_factor = _variant(rng, variant, voxel_mm)
    envelope = apply(pose, head.surface_points)
    frame = envelope @ direction
    margin = rng.uniform(3.0, 12.0, size=(2, 3))
    low, high = frame.min(axis=0) - margin[0], frame.max(axis=0) + margin[1]
    size = np.ceil((high - low) / spacing).astype(int) + 1
    grid = Grid(direction @ low, spacing, direction, size)
    bias = rng.normal(0.0, 0.08, size=(3, 3, 3)) * bias_factor
    bias[0, 0, 0] = 0.0
    bias[np.add.outer(np.add.outer(np.arange(3), np.arange(3)), np.arange(3)) > 2] = 0.0
    return Acquisition(
        sequence=sequence, grid=grid, slice_thickness_mm=float(spacing[2]), subslices=subslices,
        world_to_scanner=pose, rotation_deg=float(angle), shift_mm=float(np.linalg.norm(shift)),
        noise=float(rng.uniform(0.015, 0.04) if sequence in THREE_D else rng.uniform(0.02, 0.05)),
        bias=bias, scale=float(np.exp(rng.uniform(np.log(150.0), np.log(2500.0)))),
    )


@dataclass
class AcquiredSequence:
    image: sitk.Image      # int16
    seg: np.ndarray        # uint8 BraTS labels (z, y, x) on the output grid
    instances: np.ndarray  # uint16 lesion ids
    brain: np.ndarray | None  # uint8, when asked for


def _resample(image: sitk.Image, grid: Grid, scanner_to_image: np.ndarray, interpolator) -> np.ndarray:
    """Values of `image` on `grid`, keeping the pixel type; 0 outside."""
    out = sitk.Resample(image, grid.empty(), transform_from_matrix(scanner_to_image), interpolator, 0.0,
                        image.GetPixelID())
    return sitk.GetArrayFromImage(out)


def _patch_box(grid: Grid, patch: sitk.Image, world_to_scanner: np.ndarray):
    """Voxel range (lo, hi) of `grid` that a world-space patch covers, or None when outside."""
    size = np.array(patch.GetSize())
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in size], indexing="ij")).reshape(3, -1).T
    world = np.array(patch.GetOrigin()) + corners * patch.GetSpacing()
    index = grid.continuous_index(apply(world_to_scanner, world))
    lo = np.maximum(np.floor(index.min(axis=0)).astype(int) - 1, 0)
    hi = np.minimum(np.ceil(index.max(axis=0)).astype(int) + 1, grid.size - 1)
    return (lo, hi) if np.all(hi >= lo) else None


def _slices(lo, hi):
    """Array (z, y, x) slices of a voxel box given in (x, y, z)."""
    return tuple(slice(a, b + 1) for a, b in zip(lo[::-1], hi[::-1]))


class _Painter:
    """Draws lesions into a sampled sequence and its labels (label voxels = centre sub-slices)."""

    def __init__(self, acquisition: Acquisition, sample: np.ndarray):
        self.acq = acquisition
        self.sample = sample
        self.grid = acquisition.sample_grid()
        self.scanner_to_world = np.linalg.inv(acquisition.world_to_scanner)
        z, y, x = acquisition.grid.size[::-1]
        self.seg = np.zeros((z, y, x), np.uint8)
        self.instances = np.zeros((z, y, x), np.uint16)

    def _patch(self, patch: sitk.Image):
        box = _patch_box(self.grid, patch, self.acq.world_to_scanner)
        if box is None:
            return None, None
        values = _resample(patch, self.grid.box(*box), self.scanner_to_world, sitk.sitkLinear)
        return box, values

    def _label_view(self, box, values):
        """Label-grid box and the values on its centre sub-slices."""
        n = self.acq.subslices
        lo, hi = box
        first = -(-(lo[2] - n // 2) // n)  # first output slice whose centre sub-slice is in the box
        last = (hi[2] - n // 2) // n
        if last < first:
            return None, None
        picks = np.arange(first, last + 1) * n + n // 2 - lo[2]
        return (np.array([lo[0], lo[1], first]), np.array([hi[0], hi[1], last])), values[picks]

    def context(self, rendered: RenderedLesion):
        """Oedema and dural tail: drawn before any mass so masses cover them."""
        lesion = rendered.lesion
        box, values = self._patch(rendered.context)
        if box is None:
            return
        region = self.sample[_slices(*box)]
        oedema, texture, tail = values[..., 0], values[..., 1], values[..., 2]
        if lesion.oedema is not None:
            level = lesion.intensities[lesion.oedema.compartment][self.acq.sequence]
            region += oedema * (level * (1 + lesion.oedema.texture * texture) - region)
        if lesion.dural_tail is not None and self.acq.sequence == "t1ce":
            region += tail * (lesion.intensities[lesion.solid]["t1ce"] - region)
        if lesion.labelled:
            label_box, label_values = self._label_view(box, values[..., 0])
            if label_box is not None:
                seg = self.seg[_slices(*label_box)]
                seg[(label_values >= OEDEMA_LEVEL) & (seg == 0)] = 2

    def mass(self, rendered: RenderedLesion, lesion_id: int):
        lesion = rendered.lesion
        box, values = self._patch(rendered.mass)
        if box is not None:
            mass, core, texture = values[..., 0], values[..., 1], values[..., 2]
            seq = self.acq.sequence
            solid = lesion.intensities[lesion.solid][seq] * (1 + lesion.texture * texture)
            inner = solid
            if lesion.rim_mm > 0:
                inner = lesion.intensities[lesion.core][seq] * (1 + 0.5 * lesion.texture * texture)
            region = self.sample[_slices(*box)]
            region += mass * (core * inner + (1 - core) * solid - region)
            if lesion.labelled:
                label_box, label_values = self._label_view(box, values[..., :2])
                if label_box is not None:
                    self._label_mass(lesion, lesion_id, label_box, label_values)
        if lesion.labelled and not np.any(self.instances == lesion_id):
            self._label_point(lesion, lesion_id, rendered.centroid)

    def _solid_label(self, lesion) -> int:
        return 1 if lesion.enhancement == "none" else 3

    def _label_mass(self, lesion, lesion_id, label_box, values):
        inside = values[..., 0] >= MASS_LEVEL
        labels = np.where(values[..., 1] >= CORE_LEVEL, 1, self._solid_label(lesion)).astype(np.uint8)
        seg = self.seg[_slices(*label_box)]
        seg[inside] = labels[inside]
        self.instances[_slices(*label_box)][inside] = lesion_id

    def _label_point(self, lesion, lesion_id, centre_world):
        """A lesion smaller than a voxel still marks the voxel nearest its centre."""
        index = np.rint(self.acq.grid.continuous_index(apply(self.acq.world_to_scanner, centre_world)))
        index = np.clip(index.astype(int), 0, self.acq.grid.size - 1)
        voxel = tuple(index[::-1])
        self.seg[voxel] = self._solid_label(lesion)
        self.instances[voxel] = lesion_id


def _slab_average(sample: np.ndarray, n: int) -> np.ndarray:
    """Thick slices from `n` thin ones, with a soft-edged slice profile."""
    if n == 1:
        return sample
    offsets = (np.arange(n) - (n - 1) / 2) / (n / 2)
    weights = np.exp(-0.5 * (offsets / 0.7) ** 2)
    weights /= weights.sum()
    z, y, x = sample.shape
    return np.tensordot(weights, sample.reshape(z // n, n, y, x), axes=([0], [1])).astype(np.float32)


def _bias_field(acq: Acquisition, shape) -> np.ndarray:
    """exp(sum c_ijk P_i(x) P_j(y) P_k(z)), Legendre polynomials on the field of view."""
    def legendre(n):
        u = np.linspace(-1.0, 1.0, n)
        return np.stack([np.ones_like(u), u, 1.5 * u ** 2 - 0.5])

    nz, ny, nx = shape
    pz, py, px = legendre(nz), legendre(ny), legendre(nx)
    planes = np.einsum("ijk,jy,ix->kyx", acq.bias, py, px)
    return np.exp(np.tensordot(pz.T, planes, axes=1)).astype(np.float32)


def _finish(acq: Acquisition, image: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Bias, Rician noise (magnitude of a complex signal with Gaussian noise), int16 scale."""
    image = image * _bias_field(acq, image.shape)
    sigma = np.float32(acq.noise * level)
    real = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(image.shape, dtype=np.float32)
    magnitude = np.sqrt(real * real + imaginary * imaginary)
    return np.clip(np.rint(magnitude * acq.scale), 0, np.iinfo(np.int16).max).astype(np.int16)


def acquire(acq: Acquisition, head: Head, lesions: list, intensity: dict, rng: np.random.Generator,
            brain_mask: bool = True) -> AcquiredSequence:
    """The sequence image and its truth (labels, lesion ids, brain mask) on the output grid.

    Labelled lesions get ids 1, 2, ... in list order (distractors draw no label).
    """
    template = head.template
    scanner_to_template = head.world_to_template @ np.linalg.inv(acq.world_to_scanner)
    base = template.image(head.base_image(intensity))
    sample = _resample(base, acq.sample_grid(), scanner_to_template, sitk.sitkLinear)
    painter = _Painter(acq, sample)
    for rendered in lesions:
        if rendered.context is not None:
            painter.context(rendered)
    labelled_id = 0
    for rendered in lesions:
        labelled_id += rendered.lesion.labelled
        painter.mass(rendered, labelled_id if rendered.lesion.labelled else 0)
    image_array = _finish(acq, _slab_average(painter.sample, acq.subslices), intensity["gm"], rng)
    image = sitk.GetImageFromArray(image_array)
    image.CopyInformation(acq.grid.empty())
    brain = None
    if brain_mask:
        brain = _resample(template.image(template.brain.astype(np.uint8)), acq.grid, scanner_to_template,
                          sitk.sitkNearestNeighbor)
        brain = (brain.astype(bool) | (painter.instances > 0)).astype(np.uint8)
    return AcquiredSequence(image=image, seg=painter.seg, instances=painter.instances, brain=brain)
