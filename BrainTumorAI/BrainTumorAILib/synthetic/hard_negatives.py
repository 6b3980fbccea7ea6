"""Enhancing normal anatomy that a metastasis detector must learn to leave alone (hard negatives).

Real T1CE shows many bright structures that are not tumour: the dura of the falx cerebri and the
tentorium, the deep veins (internal cerebral veins, vein of Galen, straight sinus), the choroid
plexus (atria, temporal horns, third ventricle) and cortical veins running over the brain,
whose cross-sections look like small enhancing nodules. The template-level structures are
drawn once per grid (`dura`, `deep_veins`, `extra_choroid`); the cortical veins differ from
case to case (`cortical_veins`, drawn from the case's random stream).

Tubes are drawn by their distance to a centre line (a distance transform of the rasterised
centre line): hand-written because no library draws soft-edged tubes in physical space.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FALX_HALF_MM = 0.8          # half thickness of the falx and tentorium sheets
CORTICAL_VEINS = (5, 14)    # per case: a random count in this range
VEIN_RADIUS_MM = (0.7, 1.8)
VEIN_LENGTH_MM = (15.0, 55.0)
VEIN_MAX_DEPTH_MM = 6.0     # cortical veins stay near the brain surface (in or just below it)

# Deep veins as centre lines in MNI RAS mm (read off the 2009 template) with their radius (mm).
DEEP_VEINS = (
    (((2.5, -2.0, 18.0), (2.5, -20.0, 16.0), (2.0, -34.0, 10.0), (0.0, -42.0, 4.0)), 1.2),   # internal cerebral veins
    (((-2.5, -2.0, 18.0), (-2.5, -20.0, 16.0), (-2.0, -34.0, 10.0), (0.0, -42.0, 4.0)), 1.2),
    (((0.0, -42.0, 4.0), (0.0, -60.0, 0.0), (0.0, -78.0, -4.0), (0.0, -92.0, -6.0)), 2.0),  # Galen, straight sinus
    (((18.0, 0.0, -12.0), (14.0, -22.0, -6.0), (6.0, -36.0, 0.0), (0.0, -42.0, 4.0)), 1.0),  # basal veins
    (((-18.0, 0.0, -12.0), (-14.0, -22.0, -6.0), (-6.0, -36.0, 0.0), (0.0, -42.0, 4.0)), 1.0),
)
# Choroid plexus beyond the atria (template.CHOROID_ATRIUM_RAS): temporal horns, third ventricle.
EXTRA_CHOROID = (((28.0, -20.0, -12.0), (5.0, 10.0, 4.0)), ((-28.0, -20.0, -12.0), (5.0, 10.0, 4.0)),
                 ((0.0, -14.0, 8.0), (2.5, 10.0, 3.0)))


def _soft_band(distance_mm, half_mm, spacing):
    """Fraction of a voxel within `half_mm` of a surface or line at `distance_mm`."""
    return np.clip((half_mm - distance_mm) / spacing + 0.5, 0.0, 1.0).astype(np.float32)


def dura(brain, csf, dist_out, x, y, z, spacing) -> np.ndarray:
    """Falx cerebri (midline sheet above the corpus callosum, in the interhemispheric fissure) and
    tentorium (the sheet over the cerebellum): fraction maps in MNI RAS coordinates x, y, z."""
    fissure = (brain & (csf > 0.2)) | (~brain & (dist_out < 4.0))
    falx = _soft_band(np.abs(x), FALX_HALF_MM, spacing) * ((z > 12.0) | (y < -60.0)) * (y > -100.0) * (y < 62.0)
    falx *= z > -8.0
    tentorium_z = -14.0 + 0.1 * (-40.0 - y) - 0.12 * np.abs(x)
    tentorium = _soft_band(np.abs(z - tentorium_z), FALX_HALF_MM, spacing) * (y < -42.0) * (np.abs(x) < 55.0)
    return (np.maximum(falx, tentorium) * fissure).astype(np.float32)


def _polyline(points, step_mm):
    """Points every `step_mm` along the straight segments between `points` (N, 3)."""
    points = np.asarray(points, float)
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        n = max(2, int(np.ceil(np.linalg.norm(b - a) / step_mm)) + 1)
        out.append(a + np.linspace(0.0, 1.0, n)[1:, None] * (b - a))
    return np.concatenate(out)


def tubes(centre_lines, shape, origin, spacing) -> np.ndarray:
    """Soft fraction of tubes given as [(LPS points (N, 3), radius mm), ...] on an LPS grid
    (z, y, x) with `origin` and isotropic `spacing`; the largest fraction where tubes cross."""
    out = np.zeros(shape, np.float32)
    by_radius = {}
    for points, radius in centre_lines:
        by_radius.setdefault(round(float(radius), 2), []).append(_polyline(points, spacing / 4.0))
    for radius, lines in by_radius.items():
        index = np.rint((np.concatenate(lines) - origin) / spacing).astype(int)[:, ::-1]  # (z, y, x)
        index = index[np.all((index >= 0) & (index < shape), axis=1)]
        if not len(index):
            continue
        low = np.maximum(index.min(axis=0) - int(np.ceil(radius / spacing)) - 2, 0)
        high = np.minimum(index.max(axis=0) + int(np.ceil(radius / spacing)) + 3, shape)
        box = tuple(slice(a, b) for a, b in zip(low, high))
        centre = np.ones(tuple(high - low), bool)
        centre[tuple((index - low).T)] = False
        distance = ndimage.distance_transform_edt(centre, sampling=[spacing] * 3)
        out[box] = np.maximum(out[box], _soft_band(distance, radius, spacing))
    return out


def ras_to_lps_points(points_ras) -> np.ndarray:
    return np.asarray(points_ras, float) * [-1.0, -1.0, 1.0]


def deep_veins(shape, origin, spacing) -> np.ndarray:
    """Internal cerebral and basal veins, vein of Galen and straight sinus."""
    return tubes([(ras_to_lps_points(points), radius) for points, radius in DEEP_VEINS], shape, origin, spacing)


def extra_choroid(ventricles, x, y, z, ellipsoid) -> np.ndarray:
    """Choroid plexus of the temporal horns and the roof of the third ventricle, inside CSF."""
    out = np.zeros(ventricles.shape, np.float32)
    for centre, semi_axes in EXTRA_CHOROID:
        out = np.maximum(out, ellipsoid(x, y, z, centre, semi_axes))
    return out * ventricles


def cortical_veins(rng: np.random.Generator, template) -> np.ndarray:
    """This case's cortical veins: random smooth tubes (1.4-3.6 mm wide, 15-55 mm long) winding over
    the cerebral surface and into the sulci, on the template grid."""
    surface = template.candidates["cerebral_surface"]
    lines = []
    for _ in range(int(rng.integers(*CORTICAL_VEINS))):
        point = template.points(surface[rng.integers(surface.size)])
        direction = rng.normal(size=3)
        length, step = rng.uniform(*VEIN_LENGTH_MM), 1.0
        points = [point]
        for _ in range(int(length / step)):
            direction = direction / np.linalg.norm(direction) + rng.normal(0.0, 0.25, 3)
            direction /= np.linalg.norm(direction)
            candidate = points[-1] + step * direction
            depth = template.sample(template.dist_in, candidate[None])[0]
            outside = template.sample(template.dist_out, candidate[None])[0]
            if depth > VEIN_MAX_DEPTH_MM or outside > 2.0:
                # turn back towards the surface band instead of leaving it
                direction = -direction + rng.normal(0.0, 0.5, 3)
                continue
            points.append(candidate)
        if len(points) > 3:
            lines.append((np.array(points), rng.uniform(*VEIN_RADIUS_MM)))
    return tubes(lines, template.shape, template.origin, template.spacing)
