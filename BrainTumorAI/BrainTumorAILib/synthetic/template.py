"""Real anatomy for the phantoms: nilearn's MNI152 (2009) maps, and the structures derived once.

The template lives on an LPS grid with identity direction whose physical coordinates are MNI
millimetres (x and y negated, as LPS is), padded below so a skull and scalp fit under the
brain. Everything that does not depend on the case (tissue fractions, distance maps, candidate
sites for lesions, vessels, choroid plexus, the pituitary gland) is computed here once per grid
spacing and cached in-process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from .fields import PlaneWaveNoise
from .hard_negatives import deep_veins, dura, extra_choroid

# Anatomical landmarks in MNI RAS millimetres (read off the 2009 template).
SELLA_RAS = np.array([0.0, -2.0, -30.0])
CPA_RAS = np.array([23.0, -30.0, -33.0])          # right cerebellopontine angle; mirror for left
CHOROID_ATRIUM_RAS = np.array([27.0, -40.0, 15.0])  # right ventricular atrium; mirror for left
PAD_BELOW_MM = 24.0      # room for skull base and scalp under the cut medulla
MAX_LAYERS_MM = 26.0     # CSF gap + skull + scalp never exceed this (see head.py)
CLOSING_MM = 20.0        # the skull base fills brain concavities narrower than twice this
SPHERE_BINS = (24, 48)   # polar x azimuth bins of the skull and scalp thickness maps
BRAIN_MIDDLE_LPS = np.array([0.0, 18.0, 10.0])  # directions around the head are taken from here
_TEMPLATE_SEED = 20090   # the fixed vessel pattern (the case's pose and scale vary it)


@dataclass(frozen=True, eq=False)
class TemplateAnatomy:
    """Template maps on one grid; arrays are (z, y, x) like SimpleITK's, points are LPS mm."""

    spacing: float
    origin: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray             # CSF fraction inside the brain mask (sulci, cisterns, ventricles)
    brain: np.ndarray           # bool brain mask
    dist_in: np.ndarray         # mm to the brain surface, inside
    dist_out: np.ndarray        # mm to the brain surface, outside
    infratentorial: np.ndarray  # bool: cerebellum and brainstem
    vessels: np.ndarray         # cortical vessel fraction (in sulcal CSF)
    choroid: np.ndarray         # choroid plexus fraction (in ventricular CSF)
    dura: np.ndarray            # falx cerebri and tentorium fraction (enhancing dura)
    deep_veins: np.ndarray      # internal cerebral and basal veins, vein of Galen, straight sinus
    sinus_path: np.ndarray      # fraction: where dural venous sinuses run (superior sagittal, transverse)
    gland: np.ndarray           # normal pituitary gland fraction
    shell_index: np.ndarray     # flat indices of voxels outside the brain, skull and scalp included
    shell_depth: np.ndarray     # their distance (mm) to the brain surface
    shell_outer_depth: np.ndarray  # ... and to the closed brain (the skull base filled in)
    shell_bin: np.ndarray       # their flat direction bin in a SPHERE_BINS map
    candidates: dict            # site name -> flat voxel indices where lesions of a kind may sit

    @property
    def shape(self) -> tuple:
        return self.gm.shape

    def points(self, flat_index) -> np.ndarray:
        """LPS points (N, 3) of flat voxel indices."""
        k, j, i = np.unravel_index(np.asarray(flat_index), self.shape)
        return self.origin + self.spacing * np.stack([i, j, k], axis=-1)

    def sample(self, array: np.ndarray, points_lps: np.ndarray, order: int = 1) -> np.ndarray:
        """Values of a template map at LPS points (..., 3), linear by default, 0 outside."""
        index = (np.asarray(points_lps) - self.origin) / self.spacing
        coords = [index[..., 2].ravel(), index[..., 1].ravel(), index[..., 0].ravel()]
        values = ndimage.map_coordinates(array.astype(np.float32, copy=False), coords, order=order,
                                         mode="constant", cval=0.0)
        return values.reshape(index.shape[:-1])

    def image(self, array: np.ndarray) -> sitk.Image:
        """A map as a SimpleITK image on the template grid."""
        image = sitk.GetImageFromArray(array)
        image.SetSpacing([self.spacing] * 3)
        image.SetOrigin(self.origin.tolist())
        return image


def _mni_maps_1mm() -> dict:
    """The MNI tissue maps and brain mask at 1 mm as (z, y, x) arrays on an LPS grid, padded below."""
    from nilearn import datasets  # imported here: nilearn is slow to import and only needed once

    loaders = {
        "gm": lambda: datasets.load_mni152_gm_template(resolution=1),
        "wm": lambda: datasets.load_mni152_wm_template(resolution=1),
        "brain": lambda: datasets.load_mni152_brain_mask(resolution=1),
    }
    maps, affine = {}, None
    pad = int(PAD_BELOW_MM)
    for name, load in loaders.items():
        nifti = load()
        affine = nifti.affine
        ras = np.asarray(nifti.dataobj, dtype=np.float32)
        lps = ras[::-1, ::-1, :].transpose(2, 1, 0)  # flip x, y; numpy order (z, y, x)
        maps[name] = np.pad(lps, ((pad, 0), (0, 0), (0, 0)))
    if not np.allclose(affine[:3, :3], np.eye(3)):
        raise RuntimeError("unexpected MNI152 template affine in nilearn")
    shape_ras = np.array(maps["gm"].shape[::-1]) - [0, 0, pad]
    far_corner_ras = affine[:3, 3] + (shape_ras - 1)
    origin = np.array([-far_corner_ras[0], -far_corner_ras[1], affine[2, 3] - pad])
    return {"origin": origin, **maps}


def _to_spacing(maps: dict, spacing: float) -> dict:
    """Maps on a coarser grid: block averages (anti-aliasing), then linear resampling."""
    if spacing == 1.0:
        return maps
    shape = maps["gm"].shape
    new_size = [int(np.floor((n - 1) / spacing)) + 1 for n in shape[::-1]]
    out = {"origin": maps["origin"]}
    for name in ("gm", "wm", "brain"):
        image = sitk.GetImageFromArray(maps[name])
        image.SetOrigin(maps["origin"].tolist())
        image = sitk.BinShrink(image, [max(1, int(spacing))] * 3)
        resampled = sitk.Resample(image, new_size, sitk.Transform(), sitk.sitkLinear,
                                  maps["origin"].tolist(), [spacing] * 3)
        out[name] = sitk.GetArrayFromImage(resampled)
    return out


def _lps_grid_ras(shape, origin, spacing):
    """MNI RAS coordinates of every voxel, as three broadcastable arrays (z, y, x order)."""
    nz, ny, nx = shape
    x = -(origin[0] + spacing * np.arange(nx))[None, None, :]
    y = -(origin[1] + spacing * np.arange(ny))[None, :, None]
    z = (origin[2] + spacing * np.arange(nz))[:, None, None]
    return x, y, z


def _infratentorial(brain, x, y, z):
    # The tentorium as a plane rising backwards and falling laterally, plus the brainstem box:
    # checked by eye on the template's sagittal and coronal slices.
    brainstem = (np.abs(x) < 16) & (y > -46) & (y < -10) & (z < -12)
    cerebellum = (y < -40) & (z < -14 + 0.1 * (-40 - y) - 0.12 * np.abs(x))
    return brain & (brainstem | cerebellum)


def _ellipsoid(x, y, z, centre_ras, semi_axes):
    """A soft-edged ellipsoid (fraction 0-1) given in MNI RAS."""
    r2 = ((x - centre_ras[0]) / semi_axes[0]) ** 2 + ((y - centre_ras[1]) / semi_axes[1]) ** 2 \
        + ((z - centre_ras[2]) / semi_axes[2]) ** 2
    return np.clip(1.5 - r2, 0.0, 1.0).astype(np.float32)


def _vessels(csf, dist_in, spacing, shape, origin):
    """Cortical vessels: thin sheets along a fixed random field's zero set, inside sulcal CSF."""
    noise = PlaneWaveNoise(np.random.default_rng(_TEMPLATE_SEED), wavelength_mm=(18, 40), n_waves=12)
    field = noise.on_grid(*(origin[d] + spacing * np.arange(n) for d, n in enumerate(shape[::-1])))
    ridge = np.clip(1.0 - np.abs(field) / 0.1, 0.0, 1.0)
    sulcal = np.clip(2.0 * csf, 0.0, 1.0) * (dist_in < 12.0)  # vessels fill the sulci they run in
    return (ridge * sulcal).astype(np.float32)


def _sinus_path(brain, dist_out, x, y, z):
    """Superior sagittal and transverse sinuses: soft bands just outside the brain along their course."""
    near = ~brain & (dist_out < 6.0)
    sagittal = np.clip(5.5 - np.abs(x), 0, 1) * (((z > 10.0) | (y < -80.0)) & (z > -12.0))
    transverse = np.clip(3.5 - np.abs(z - (-4.0 - 0.35 * np.abs(x))), 0, 1) * (y < -60.0) * (np.abs(x) >= 4.0)
    return (near * np.maximum(sagittal, transverse)).astype(np.float32)


def direction_bin(points_lps: np.ndarray) -> np.ndarray:
    """Flat SPHERE_BINS index of the direction of template points from the brain's middle."""
    v = points_lps - BRAIN_MIDDLE_LPS
    polar = np.arccos(np.clip(v[..., 2] / np.sqrt((v ** 2).sum(axis=-1) + 1e-9), -1, 1))
    azimuth = np.arctan2(v[..., 1], v[..., 0]) + np.pi
    n_polar, n_azimuth = SPHERE_BINS
    polar_bin = np.minimum((polar / np.pi * n_polar).astype(np.int32), n_polar - 1)
    azimuth_bin = np.minimum((azimuth / (2 * np.pi) * n_azimuth).astype(np.int32), n_azimuth - 1)
    return polar_bin * n_azimuth + azimuth_bin


def _closed_distance(dist_out, spacing):
    """Distance (mm) outside the brain closed by a CLOSING_MM ball (dilation, then erosion, by EDT).

    Real heads do not follow the brain into the gaps between temporal lobes and cerebellum:
    bone fills them. The scalp follows this closed outline.
    """
    dilated = dist_out <= CLOSING_MM
    closed = ndimage.distance_transform_edt(dilated, sampling=[spacing] * 3) > CLOSING_MM
    return ndimage.distance_transform_edt(~closed, sampling=[spacing] * 3).astype(np.float32)


def _shell(dist_out, brain, spacing, origin):
    """Voxels where CSF gap, skull and scalp can be, with their depths and direction bin."""
    half = spacing / 2.0  # voxel centre to surface, not to the nearest voxel centre
    outer = _closed_distance(dist_out, spacing) - half
    flat = np.flatnonzero(~brain & (outer <= MAX_LAYERS_MM))
    k, j, i = np.unravel_index(flat, brain.shape)
    points = origin + spacing * np.stack([i, j, k], axis=-1)
    depth = dist_out.ravel()[flat] - half
    return flat, depth.astype(np.float32), np.maximum(outer.ravel()[flat], 0.0), direction_bin(points)


@functools.lru_cache(maxsize=4)
def template_anatomy(spacing: float = 1.0) -> TemplateAnatomy:
    """The MNI152 template and its derived maps on a grid of `spacing` mm (cached)."""
    maps = _to_spacing(_mni_maps_1mm(), float(spacing))
    origin = maps["origin"]
    brain = maps["brain"] > 0.5
    gm = np.where(brain, maps["gm"], 0.0).astype(np.float32)
    wm = np.where(brain, maps["wm"], 0.0).astype(np.float32)
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.where(brain, 1.0 - gm - wm, 0.0).astype(np.float32)
    sampling = [spacing] * 3
    dist_in = ndimage.distance_transform_edt(brain, sampling=sampling).astype(np.float32)
    dist_out = ndimage.distance_transform_edt(~brain, sampling=sampling).astype(np.float32)
    x, y, z = _lps_grid_ras(brain.shape, origin, spacing)
    infratentorial = _infratentorial(brain, x, y, z)
    ventricles = (csf > 0.5) & (dist_in > 12.0)
    choroid = np.zeros_like(gm)
    for side in (1.0, -1.0):
        atrium = CHOROID_ATRIUM_RAS * [side, 1.0, 1.0]
        choroid += _ellipsoid(x, y, z, atrium, (8.0, 16.0, 8.0)) * ventricles
    choroid = np.maximum(choroid, extra_choroid(csf > 0.5, x, y, z, _ellipsoid))
    gland = _ellipsoid(x, y, z, SELLA_RAS, (6.0, 4.5, 3.5))
    shell_index, shell_depth, shell_outer_depth, shell_bin = _shell(dist_out, brain, spacing, origin)
    cerebral = brain & ~infratentorial
    parenchyma = (gm + wm) > 0.8
    junction = brain & (gm > 0.25) & (gm < 0.75) & (wm > 0.2)
    surface = brain & (dist_in <= spacing) & (np.broadcast_to(z, brain.shape) > -25.0)
    candidates = {
        "deep_white_matter": np.flatnonzero(cerebral & (wm > 0.5) & (dist_in > 15.0)),
        "cerebral_parenchyma": np.flatnonzero(cerebral & parenchyma & (dist_in > 10.0)),
        "junction_supratentorial": np.flatnonzero(cerebral & junction & (dist_in > 4.0)),
        "junction_infratentorial": np.flatnonzero(infratentorial & junction & (dist_in > 4.0)),
        "white_matter": np.flatnonzero(cerebral & (wm > 0.7)),
        "cerebral_surface": np.flatnonzero(surface & ~infratentorial),
    }
    return TemplateAnatomy(
        spacing=float(spacing), origin=origin, gm=gm, wm=wm, csf=csf, brain=brain,
        dist_in=dist_in, dist_out=dist_out, infratentorial=infratentorial,
        vessels=_vessels(csf, dist_in, spacing, brain.shape, origin),
        choroid=np.minimum(choroid, csf), dura=dura(brain, csf, dist_out, x, y, z, spacing),
        deep_veins=deep_veins(brain.shape, origin, spacing), sinus_path=_sinus_path(brain, dist_out, x, y, z),
        gland=gland, shell_index=shell_index, shell_depth=shell_depth, shell_outer_depth=shell_outer_depth,
        shell_bin=shell_bin,
        candidates=candidates,
    )
