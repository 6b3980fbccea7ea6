"""Lesion geometry: noise-deformed ellipsoids with a rim, a core, oedema and a dural tail.

A lesion is defined by continuous parameters in the case's world (LPS mm). It is rendered once
into two small world-aligned patches, which every acquisition then samples through its own
geometry, so T1, T1CE, T2 and FLAIR show the same lesion wherever their voxels fall:
- the mass patch (fine enough for a 2 mm metastasis): mass fraction, core fraction (necrosis
  or cyst inside the rim), texture;
- the context patch (the case's voxel size, at least 1.5 mm): peritumoral oedema fraction, its
  texture, and the enhancing dural tail of a meningioma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist

from .fields import PlaneWaveNoise
from .head import Head
from .template import direction_bin

MASS_LEVEL = 0.5     # a voxel belongs to the mass when its mass fraction reaches this
CORE_LEVEL = 0.5     # ... to the core (necrosis, cyst) when its core fraction reaches this
OEDEMA_LEVEL = 0.3   # ... to the labelled peritumoral zone when its oedema fraction reaches this
CONTEXT_SPACING_MM = 1.5  # oedema and dural tail patches: never finer than this
MIDLINE_FADE_MM = 6.0     # one-sided oedema fades out over this distance from the midline


@dataclass(frozen=True, eq=False)
class Oedema:
    """Peritumoral T2/FLAIR zone: an irregular envelope `reach_mm` beyond the mass."""

    reach_mm: float
    roughness: float
    noise: PlaneWaveNoise
    ramp_mm: float       # how gradually it fades at its edge
    cortex: float        # 0: spares the cortex (vasogenic), up to ~0.7: invades it (infiltrative)
    crosses_midline: bool  # through the corpus callosum (a "butterfly" glioma); otherwise one hemisphere
    compartment: str
    texture: float
    texture_noise: PlaneWaveNoise


@dataclass(frozen=True, eq=False)
class DuralTail:
    """Enhancing thickened dura running `length_mm` beyond a meningioma's base."""

    attachment: np.ndarray   # world LPS point on the dura under the tumour
    base_radius_mm: float
    length_mm: float


@dataclass(frozen=True, eq=False)
class Lesion:
    kind: str                 # gbm, metastasis, lgg, meningioma, pituitary, schwannoma, white_matter_lesion
    labelled: bool            # a tumour in the truth, or a distractor (white-matter lesion)
    centre: np.ndarray        # world LPS mm
    semi_axes: np.ndarray     # mm
    rotation: np.ndarray      # 3x3, columns are the ellipsoid's axes in world
    roughness: float          # relative radial deformation
    shape_noise: PlaneWaveNoise
    edge_mm: float            # width of the boundary (ill-defined margins are wide)
    confine: str              # "brain", "intracranial" or "none": where the mass may be
    solid: str                # compartment of the solid part
    enhancement: str          # "ring", "solid" or "none"
    location: str             # "supratentorial" or "infratentorial"
    intensities: dict         # compartment -> {sequence: value}
    texture: float
    texture_noise: PlaneWaveNoise
    rim_mm: float = 0.0       # > 0: a core (necrosis or cyst) lies inside a rim this thick
    rim_irregularity: float = 0.0
    rim_noise: PlaneWaveNoise | None = None
    core: str = "necrosis"
    oedema: Oedema | None = None
    dural_tail: DuralTail | None = None

    @property
    def diameter_mm(self) -> float:
        """Nominal diameter (twice the mean semi-axis), used while placing lesions."""
        return float(2.0 * np.mean(self.semi_axes))


@dataclass(frozen=True, eq=False)
class RenderedLesion:
    lesion: Lesion
    mass: sitk.Image                 # vector image: mass, core, texture
    context: sitk.Image | None       # vector image: oedema, oedema texture, dural tail
    mass_points: np.ndarray          # world LPS points of the mass (patch voxel centres)
    zone_points: np.ndarray          # world LPS points of mass + labelled oedema (the ROI's content)

    @property
    def centroid(self) -> np.ndarray:
        return self.mass_points.mean(axis=0)

    def longest_diameter_mm(self) -> float:
        """Largest distance between two voxel centres of the mass (on the hull, to stay cheap)."""
        points = self.mass_points
        if len(points) < 2:
            return 0.0
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # flat or tiny: every point is on the hull
            pass
        return float(pdist(points).max())


class _PatchGrid:
    """A world-aligned grid around a centre: coordinates as broadcastable (z, y, x) arrays."""

    def __init__(self, centre, half_extent, spacing):
        size = np.maximum(np.ceil(2 * half_extent / spacing).astype(int) + 1, 2)
        self.origin = centre - spacing * (size - 1) / 2.0
        self.spacing = spacing
        self.axes = [self.origin[d] + spacing * np.arange(size[d]) for d in range(3)]
        x, y, z = self.axes
        self.coords = (x[None, None, :], y[None, :, None], z[:, None, None])
        self.shape = (z.size, y.size, x.size)

    def points(self, where: np.ndarray) -> np.ndarray:
        """World points (N, 3) of the voxels selected by a boolean (z, y, x) mask."""
        return np.stack([np.broadcast_to(c, self.shape)[where] for c in self.coords], axis=-1)

    def noise(self, field: PlaneWaveNoise) -> np.ndarray:
        return field.on_grid(*self.axes)

    def image(self, channels) -> sitk.Image:
        image = sitk.GetImageFromArray(np.stack(channels, axis=-1).astype(np.float32), isVector=True)
        image.SetOrigin(self.origin.tolist())
        image.SetSpacing([float(self.spacing)] * 3)
        return image


def _depth_inside(grid: _PatchGrid, centre, rotation, semi_axes, roughness, noise):
    """Approximate distance (mm) inside a deformed ellipsoid's surface; negative outside.

    `noise` (same shape as the grid) moves the surface radially by `roughness` of its radius.
    """
    v = [c - centre[d] for d, c in enumerate(grid.coords)]
    q2 = sum((sum(v[i] * rotation[i, j] for i in range(3)) / semi_axes[j]) ** 2 for j in range(3))
    q = np.sqrt(q2)
    r = np.sqrt(sum(component ** 2 for component in v))
    radius = np.where(q > 1e-6, r / np.maximum(q, 1e-6), semi_axes.min())  # surface radius this way
    return radius * (1.0 + roughness * noise - q)


def _bounding_half_extent(rotation, semi_axes):
    """Half extent along the world axes of a rotated ellipsoid."""
    return np.sqrt(((rotation * semi_axes[None, :]) ** 2).sum(axis=1))


def _confinement(lesion: Lesion, head: Head, grid: _PatchGrid, where):
    """Fraction of each selected voxel where the mass may be (brain, intracranial space, anywhere)."""
    if lesion.confine == "none":
        return 1.0
    points = grid.points(where)
    if lesion.confine == "brain":
        t = head.template
        return t.sample(t.brain, head.to_template(points))
    return head.intracranial(points)


def _render_mass(lesion: Lesion, head: Head, voxel_mm: float):
    # Fine enough that the smallest metastasis is several patch voxels across.
    spacing = min(voxel_mm, max(0.25, lesion.semi_axes.min() / 4.0))
    edge = max(spacing, lesion.edge_mm)
    half = _bounding_half_extent(lesion.rotation, lesion.semi_axes) * (1 + lesion.roughness) + edge + 2 * spacing
    grid = _PatchGrid(lesion.centre, half, spacing)
    depth = _depth_inside(grid, lesion.centre, lesion.rotation, lesion.semi_axes,
                          lesion.roughness, grid.noise(lesion.shape_noise))
    mass = np.clip(depth / edge + 0.5, 0.0, 1.0)
    touched = mass > 0
    mass[touched] *= _confinement(lesion, head, grid, touched)
    core = np.zeros_like(mass)
    if lesion.rim_mm > 0:
        rim = lesion.rim_mm * np.maximum(1.0 + lesion.rim_irregularity * grid.noise(lesion.rim_noise), 0.3)
        core = np.clip((depth - rim) / spacing + 0.5, 0.0, 1.0) * (mass >= MASS_LEVEL)
    texture = grid.noise(lesion.texture_noise)
    points = grid.points(mass >= MASS_LEVEL)
    if len(points) == 0:  # confined away entirely (never by design): keep the nominal centre
        points = lesion.centre[None]
    return grid.image([mass, core, texture]), points


def _same_compartment(head: Head, lesion: Lesion, at_template, crosses_midline: bool):
    """Oedema spreads in white matter but stops at the tentorium and, usually, the falx."""
    template = head.template
    centre = head.to_template(lesion.centre[None])
    below = template.sample(template.infratentorial, np.concatenate([centre, at_template]))
    allowed = 1.0 - np.abs(below[1:] - below[0])
    if not crosses_midline:
        side = np.sign(centre[0, 0]) or 1.0
        allowed *= np.clip(at_template[:, 0] * side / MIDLINE_FADE_MM, 0.0, 1.0)
    return allowed


def _render_context(lesion: Lesion, head: Head, voxel_mm: float):
    """Oedema and dural tail on a coarser patch: both are smooth, and the oedema is large."""
    spacing = max(voxel_mm, CONTEXT_SPACING_MM)
    oedema, tail = lesion.oedema, lesion.dural_tail
    reach = 0.0
    if oedema is not None:
        reach = max(reach, (oedema.reach_mm + lesion.semi_axes.max()) * (1 + oedema.roughness)
                    + oedema.ramp_mm - lesion.semi_axes.max())
    if tail is not None:
        reach = max(reach, tail.length_mm + tail.base_radius_mm)
    half = _bounding_half_extent(lesion.rotation, lesion.semi_axes) + reach + 2 * spacing
    grid = _PatchGrid(lesion.centre, half, spacing)
    template = head.template
    channels = [np.zeros(grid.shape, np.float32) for _ in range(3)]
    if oedema is not None:
        axes = lesion.semi_axes + oedema.reach_mm
        depth = _depth_inside(grid, lesion.centre, lesion.rotation, axes, oedema.roughness, grid.noise(oedema.noise))
        envelope = np.clip(depth / oedema.ramp_mm, 0.0, 1.0)
        inside = envelope > 0
        at = head.to_template(grid.points(inside))
        affinity = template.sample(template.wm, at) + oedema.cortex * template.sample(template.gm, at)
        channels[0][inside] = envelope[inside] * np.clip(affinity, 0.0, 1.0) * _same_compartment(
            head, lesion, at, oedema.crosses_midline)
        channels[1] = grid.noise(oedema.texture_noise)
    if tail is not None:
        near = np.sqrt(sum((c - tail.attachment[d]) ** 2 for d, c in enumerate(grid.coords)))
        reach_out = np.clip(1.0 - (near - tail.base_radius_mm) / tail.length_mm, 0.0, 1.0)
        inside = reach_out > 0
        at = head.to_template(grid.points(inside))
        depth = template.sample(template.dist_out, at) - template.spacing / 2.0
        from_inner_table = depth - head.gap_mm[direction_bin(at)]
        # Thickened dura: a ~2 mm sheet lining the inner table.
        dura = np.clip(1.0 - np.abs(from_inner_table + 0.75) / max(1.2, 0.6 * spacing), 0.0, 1.0)
        channels[2][inside] = dura * reach_out[inside]
    return grid.image(channels), grid.points(channels[0] >= OEDEMA_LEVEL)


def render(lesion: Lesion, head: Head, voxel_mm: float) -> RenderedLesion:
    mass, mass_points = _render_mass(lesion, head, voxel_mm)
    context, oedema_points = None, np.empty((0, 3))
    if lesion.oedema is not None or lesion.dural_tail is not None:
        context, oedema_points = _render_context(lesion, head, voxel_mm)
    return RenderedLesion(lesion=lesion, mass=mass, context=context, mass_points=mass_points,
                          zone_points=np.concatenate([mass_points, oedema_points]))
