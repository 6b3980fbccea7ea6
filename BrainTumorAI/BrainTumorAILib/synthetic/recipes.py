"""What each kind of case contains: how many lesions, their size, site, shape and signal.

The imaging signs follow the textbook picture of each tumour; the distributions overlap where
real tumours overlap (GBM and metastasis in size, rim, oedema and site), so that a classifier
has to weigh several signs rather than read one off. Sizes are physical (mm) whatever the grid.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ..image import ras_to_lps
from .contrast import compartment_intensities
from .fields import PlaneWaveNoise
from .head import Head
from .lesions import DuralTail, Lesion, Oedema
from .template import CPA_RAS, SELLA_RAS, direction_bin

MIN_DIAMETER_MM = 2.0
CLEARANCE_MM = 4.0          # between neighbouring lesions' nominal surfaces
WHITE_MATTER_LESION_RATE = 0.35  # cases (of any kind) with small non-tumour FLAIR foci


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random rotation matrix (normalised Gaussian quaternion)."""
    quaternion = rng.normal(size=4)
    return Rotation.from_quat(quaternion / np.linalg.norm(quaternion)).as_matrix()


def _site(rng, head: Head, candidates: str, min_depth_mm=0.0, avoid=(), clearance=0.0, keep=None):
    """A random world point among a template site's voxels, deep enough and clear of `avoid`.

    `avoid` is a list of (centre, radius); `keep` optionally filters template LPS points.
    """
    t = head.template
    flat = t.candidates[candidates]
    deep = flat[t.dist_in.ravel()[flat] >= min_depth_mm]
    flat = deep if deep.size else flat
    if keep is not None:
        kept = flat[keep(t.points(flat))]
        flat = kept if kept.size else flat
    for _ in range(100):
        point = t.points(flat[rng.integers(flat.size)]) + rng.uniform(-0.5, 0.5, 3) * t.spacing
        world = head.to_world(point)
        if all(np.linalg.norm(world - c) >= r + clearance for c, r in avoid):
            return world
    return world  # a crowded brain: accept the last draw rather than fail


def _location(head: Head, world_point) -> str:
    t = head.template
    below = t.sample(t.infratentorial, head.to_template(world_point[None]), order=0)[0] > 0.5
    return "infratentorial" if below else "supratentorial"


def _semi_axes(rng, diameter, spread):
    return diameter / 2.0 * rng.uniform(1 - spread, 1 + spread, 3)


def _noise(rng, low, high):
    return PlaneWaveNoise(rng, (low, high))


def _oedema(rng, reach, roughness, ramp, cortex, compartment, texture, crosses_midline=False) -> Oedema:
    return Oedema(reach_mm=reach, roughness=roughness, noise=_noise(rng, 15.0, 50.0), ramp_mm=ramp,
                  cortex=cortex, crosses_midline=crosses_midline, compartment=compartment, texture=texture,
                  texture_noise=PlaneWaveNoise(rng, (4.0, 15.0), n_waves=24))


def _lesion(rng, kind, centre, semi_axes, rotation, roughness, shape_wavelength, **fields) -> Lesion:
    """A lesion with its compartments' signal drawn for this case."""
    compartments = {fields["solid"]}
    if fields.get("rim_mm", 0) > 0:
        compartments.add(fields.get("core", "necrosis"))
        fields.setdefault("rim_noise", _noise(rng, 5.0, 18.0))
    if fields.get("oedema") is not None:
        compartments.add(fields["oedema"].compartment)
    fields.setdefault("texture_noise", PlaneWaveNoise(rng, (3.0, 12.0), n_waves=24))
    fields.setdefault("labelled", True)
    return Lesion(kind=kind, centre=centre, semi_axes=np.maximum(semi_axes, MIN_DIAMETER_MM / 2.0),
                  rotation=rotation, roughness=roughness, shape_noise=_noise(rng, *shape_wavelength),
                  intensities={c: compartment_intensities(rng, c) for c in sorted(compartments)}, **fields)


def _rim(rng, low, high, semi_axes):
    """Rim thickness, thin enough to leave a core."""
    return min(rng.uniform(low, high), 0.45 * semi_axes.min())


def gbm(rng, head: Head) -> list:
    diameter = rng.uniform(28.0, 62.0)
    radius = diameter / 2
    if rng.random() < 0.75:
        centre = _site(rng, head, "deep_white_matter", min(0.6 * radius, 22.0))
    else:
        centre = _site(rng, head, "cerebral_parenchyma", min(0.45 * radius, 18.0))
    axes = _semi_axes(rng, diameter, 0.2)
    oedema = _oedema(rng, reach=rng.uniform(8.0, 30.0), roughness=rng.uniform(0.15, 0.35),
                     ramp=rng.uniform(6.0, 15.0), cortex=rng.uniform(0.25, 0.7),
                     compartment="infiltrative_oedema" if rng.random() < 0.7 else "vasogenic_oedema",
                     texture=rng.uniform(0.05, 0.2), crosses_midline=rng.random() < 0.25)
    return [_lesion(rng, "gbm", centre, axes, random_rotation(rng), rng.uniform(0.08, 0.30),
                    (0.35 * diameter, 1.1 * diameter), edge_mm=rng.uniform(1.0, 2.5), confine="brain",
                    solid="enhancing", enhancement="ring", location=_location(head, centre),
                    texture=rng.uniform(0.08, 0.25), rim_mm=_rim(rng, 2.0, 9.0, axes),
                    rim_irregularity=rng.uniform(0.25, 0.8), oedema=oedema)]


def _metastasis(rng, head: Head, diameter, infratentorial, avoid, oedema_reach) -> Lesion:
    radius = diameter / 2
    site = "junction_infratentorial" if infratentorial else "junction_supratentorial"
    if not infratentorial and rng.random() < 0.08:
        site = "deep_white_matter"
    centre = _site(rng, head, site, min(0.5 * radius, 12.0), avoid=avoid, clearance=radius + CLEARANCE_MM)
    axes = _semi_axes(rng, diameter, 0.1)
    ring = diameter >= rng.uniform(10.0, 18.0)
    oedema = None
    if oedema_reach >= 1.5:
        oedema = _oedema(rng, reach=oedema_reach, roughness=rng.uniform(0.1, 0.3), ramp=rng.uniform(5.0, 12.0),
                         cortex=rng.uniform(0.02, 0.3),
                         compartment="vasogenic_oedema" if rng.random() < 0.8 else "infiltrative_oedema",
                         texture=rng.uniform(0.02, 0.1))
    return _lesion(rng, "metastasis", centre, axes, random_rotation(rng), rng.uniform(0.02, 0.15),
                   (0.6 * diameter, 1.8 * diameter), edge_mm=rng.uniform(0.7, 1.5), confine="brain",
                   solid="enhancing", enhancement="ring" if ring else "solid", location=_location(head, centre),
                   texture=rng.uniform(0.03, 0.12), rim_mm=_rim(rng, 1.0, 4.5, axes) if ring else 0.0,
                   rim_irregularity=rng.uniform(0.05, 0.45), oedema=oedema)


def metastasis(rng, head: Head) -> list:
    """A solitary metastasis: round, at the grey-white junction, oedema out of proportion."""
    diameter = rng.uniform(8.0, 40.0)
    return [_metastasis(rng, head, diameter, rng.random() < 0.12, (), rng.uniform(3.0, 32.0))]


def metastasis_of_size(rng, head: Head, diameter: float, avoid=()) -> Lesion:
    """One metastasis of a given nominal diameter (mm), clear of `avoid` ((centre, radius) pairs)."""
    return _metastasis(rng, head, diameter, rng.random() < 0.25, list(avoid), rng.uniform(0.0, 1.0) * diameter)


def metastases(rng, head: Head, count: int | None = None) -> list:
    """2-8 metastases (or `count`): one dominant, several small (2-10 mm), some in the posterior fossa."""
    count = int(rng.integers(2, 9)) if count is None else int(count)
    diameters = [rng.uniform(6.0, 28.0)]
    diameters += [rng.uniform(2.0, 10.0) if rng.random() < 0.65 else rng.uniform(8.0, 22.0)
                  for _ in range(count - 1)]
    lesions = []
    for diameter in diameters:
        avoid = [(lesion.centre, lesion.diameter_mm / 2) for lesion in lesions]
        reach = rng.uniform(0.0, 1.5) * diameter + rng.uniform(0.0, 6.0)
        lesions.append(_metastasis(rng, head, diameter, rng.random() < 0.25, avoid, reach))
    return lesions


def _frontal_temporal(points_lps):
    return points_lps[:, 1] < 25.0  # anterior to MNI y = -25 (LPS y is posterior)


def lgg(rng, head: Head) -> list:
    """Low-grade glioma: T2/FLAIR bright, T1 dark, ill-defined, no enhancement, no oedema."""
    diameter = rng.uniform(20.0, 60.0)
    keep = _frontal_temporal if rng.random() < 0.7 else None
    centre = _site(rng, head, "cerebral_parenchyma", min(0.4 * diameter / 2, 15.0), keep=keep)
    axes = _semi_axes(rng, diameter, 0.25)
    return [_lesion(rng, "lgg", centre, axes, random_rotation(rng), rng.uniform(0.10, 0.28),
                    (0.5 * diameter, 1.5 * diameter), edge_mm=rng.uniform(3.0, 7.0), confine="brain",
                    solid="nonenhancing_tumour", enhancement="none", location=_location(head, centre),
                    texture=rng.uniform(0.03, 0.12))]


def _outward_normal(head: Head, point_template) -> np.ndarray:
    """Unit normal of the brain surface at a template point, pointing out, in world axes."""
    t = head.template
    steps = np.eye(3) * t.spacing
    gradient = np.array([t.sample(t.dist_out, (point_template + s)[None])[0]
                         - t.sample(t.dist_out, (point_template - s)[None])[0] for s in steps])
    if np.linalg.norm(gradient) < 1e-6:  # flat spot: point away from the brain's middle
        gradient = point_template - head.to_template(np.zeros((1, 3)))[0]
    # Normals map with the transpose of the world-to-template matrix.
    normal = head.world_to_template[:3, :3].T @ gradient
    return normal / np.linalg.norm(normal)


def meningioma(rng, head: Head) -> list:
    """Extra-axial, dural-based dome, homogeneous enhancement, dural tail, oedema in some."""
    diameter = rng.uniform(15.0, 55.0)
    radius = diameter / 2
    t = head.template
    surface = t.candidates["cerebral_surface"]
    point = t.points(surface[rng.integers(surface.size)])
    normal = _outward_normal(head, point)
    gap = head.gap_mm[direction_bin(point[None])[0]]
    attachment = head.to_world(point[None])[0] + normal * gap
    axes = radius * np.array([rng.uniform(0.9, 1.15), rng.uniform(0.9, 1.15), rng.uniform(0.5, 0.8)])
    spin = random_rotation(rng)
    tangent = np.cross(normal, spin[:, 0])
    tangent /= np.linalg.norm(tangent)
    rotation = np.stack([tangent, np.cross(normal, tangent), normal], axis=1)
    centre = attachment - normal * axes[2] * rng.uniform(0.05, 0.35)
    oedema = None
    if rng.random() < 0.5:
        oedema = _oedema(rng, reach=rng.uniform(3.0, 20.0), roughness=rng.uniform(0.1, 0.3),
                         ramp=rng.uniform(5.0, 12.0), cortex=rng.uniform(0.05, 0.3),
                         compartment="vasogenic_oedema", texture=rng.uniform(0.02, 0.1))
    tail = DuralTail(attachment=attachment, base_radius_mm=radius * rng.uniform(0.8, 1.0),
                     length_mm=rng.uniform(6.0, 18.0))
    return [_lesion(rng, "meningioma", centre, axes, rotation, rng.uniform(0.03, 0.10),
                    (0.6 * diameter, 1.6 * diameter), edge_mm=rng.uniform(0.7, 1.2), confine="intracranial",
                    solid="meningioma", enhancement="solid", location=_location(head, centre),
                    texture=rng.uniform(0.03, 0.1), oedema=oedema, dural_tail=tail)]


def _cystic(rng, diameter, threshold, chance):
    return diameter > threshold and rng.random() < chance


def pituitary(rng, head: Head) -> list:
    """Sellar midline enhancing mass growing upwards (suprasellar extension when large)."""
    diameter = rng.uniform(10.0, 32.0)
    radius = diameter / 2
    centre_template = ras_to_lps(SELLA_RAS) + [rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(0.1, 0.45) * radius]
    centre = head.to_world(centre_template[None])[0]
    axes = radius * np.array([rng.uniform(0.85, 1.05), rng.uniform(0.75, 0.95), rng.uniform(1.0, 1.3)])
    tilt = Rotation.from_rotvec(rng.normal(size=3) * np.deg2rad(5)).as_matrix()
    cystic = _cystic(rng, diameter, 18.0, 0.35)
    return [_lesion(rng, "pituitary", centre, axes, tilt, rng.uniform(0.03, 0.10),
                    (0.6 * diameter, 1.6 * diameter), edge_mm=rng.uniform(0.7, 1.2), confine="none",
                    solid="pituitary_adenoma", enhancement="ring" if cystic else "solid",
                    location="supratentorial", texture=rng.uniform(0.03, 0.12),
                    rim_mm=_rim(rng, 2.0, 5.0, axes) if cystic else 0.0,
                    rim_irregularity=rng.uniform(0.1, 0.4), core="cyst")]


def schwannoma(rng, head: Head) -> list:
    """Vestibular schwannoma: enhancing cerebellopontine-angle mass along the internal auditory canal."""
    side = 1.0 if rng.random() < 0.5 else -1.0
    diameter = rng.uniform(8.0, 35.0)
    radius = diameter / 2
    cpa = CPA_RAS * [side, 1.0, 1.0] - [side * rng.uniform(0.0, 0.3) * radius, 0.0, 0.0]
    centre_template = ras_to_lps(cpa) + rng.uniform(-3.0, 3.0, 3)
    centre = head.to_world(centre_template[None])[0]
    axes = radius * np.array([rng.uniform(1.0, 1.3), rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0)])
    # Long axis along the canal: lateral, turned ~15 degrees forwards.
    canal = Rotation.from_euler("z", side * rng.uniform(10.0, 20.0), degrees=True).as_matrix()
    cystic = _cystic(rng, diameter, 20.0, 0.4)
    return [_lesion(rng, "schwannoma", centre, axes, canal, rng.uniform(0.04, 0.12),
                    (0.6 * diameter, 1.6 * diameter), edge_mm=rng.uniform(0.7, 1.2), confine="none",
                    solid="schwannoma", enhancement="ring" if cystic else "solid",
                    location="infratentorial", texture=rng.uniform(0.05, 0.2),
                    rim_mm=_rim(rng, 2.0, 5.0, axes) if cystic else 0.0,
                    rim_irregularity=rng.uniform(0.2, 0.6), core="cyst")]


def white_matter_lesions(rng, head: Head, tumours: list) -> list:
    """Small non-enhancing FLAIR-bright foci (small-vessel disease): not tumour, not labelled."""
    if rng.random() >= WHITE_MATTER_LESION_RATE:
        return []
    avoid = [(lesion.centre, lesion.diameter_mm / 2 + 10.0) for lesion in tumours]
    foci = []
    for _ in range(int(rng.integers(1, 11))):
        diameter = rng.uniform(2.0, 8.0)
        centre = _site(rng, head, "white_matter", avoid=avoid, clearance=diameter / 2)
        foci.append(_lesion(rng, "white_matter_lesion", centre, _semi_axes(rng, diameter, 0.3),
                            random_rotation(rng), 0.1, (diameter, 3 * diameter), edge_mm=1.0,
                            confine="brain", solid="white_matter_lesion", enhancement="none",
                            location="supratentorial", texture=0.05, labelled=False))
    return foci


TUMOURS_OF_KIND = {
    "gbm": gbm, "metastasis": metastasis, "metastases": metastases, "lgg": lgg,
    "meningioma": meningioma, "pituitary": pituitary, "schwannoma": schwannoma,
    "healthy": lambda rng, head: [],
}


def sample_lesions(kind: str, head: Head, rng: np.random.Generator) -> list:
    """The case's tumours (labelled, in id order) followed by its distractor foci."""
    tumours = TUMOURS_OF_KIND[kind](rng, head)
    return tumours + white_matter_lesions(rng, head, tumours)
