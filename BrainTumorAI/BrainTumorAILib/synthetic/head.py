"""One case's head: the template brain scaled into the case's own shape, with a skull and scalp.

The case's "world" is its head frame (LPS mm, close to MNI). `world_to_template` is a random
affine near identity (head size and proportions vary between cases). Around the brain, layers
follow outward with thicknesses that vary smoothly around the head: CSF gap, inner table,
marrow, outer table, subcutaneous fat, skin; the skull base fills the brain's concavities, and
dural sinuses sit in the gap. Tissue fractions are kept only on the shell voxels, the brain's
come from the template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..preprocessing.transforms import apply
from .fields import smooth_sphere_map
from .hard_negatives import cortical_veins
from .template import MAX_LAYERS_MM, SPHERE_BINS, TemplateAnatomy, direction_bin

SHELL_TISSUES = ("csf", "bone", "marrow", "fat", "skin", "sinus")
TABLE_MM = 1.5  # inner and outer tables of the skull (compact bone)


@dataclass(frozen=True, eq=False)
class Head:
    template: TemplateAnatomy
    world_to_template: np.ndarray  # 4x4, LPS
    gap_mm: np.ndarray             # CSF gap thickness per direction bin (flat SPHERE_BINS)
    shell: dict                    # tissue -> fraction on template.shell_index voxels
    surface_points: np.ndarray     # world LPS points on the skin (for fields of view), thinned
    veins: np.ndarray              # this case's cortical veins (fraction on the template grid)

    def to_template(self, points_world: np.ndarray) -> np.ndarray:
        return apply(self.world_to_template, points_world)

    def to_world(self, points_template: np.ndarray) -> np.ndarray:
        return apply(np.linalg.inv(self.world_to_template), points_template)

    def intracranial(self, points_world: np.ndarray) -> np.ndarray:
        """Soft fraction (0-1) of being inside the skull's inner table (brain or CSF gap)."""
        t = self.template
        points = self.to_template(points_world)
        depth = t.sample(t.dist_out, points) - t.spacing / 2.0
        gap = self.gap_mm[direction_bin(points)]
        return np.clip((gap - depth) / t.spacing + 0.5, 0.0, 1.0)

    def base_image(self, intensity: dict) -> np.ndarray:
        """Template-grid image of this head for one sequence's tissue intensities (no lesions)."""
        t = self.template
        image = intensity["gm"] * t.gm + intensity["wm"] * t.wm + intensity["csf"] * t.csf
        flat = image.reshape(-1)
        flat[t.shell_index] = sum(intensity[name] * self.shell[name] for name in SHELL_TISSUES)
        # enhancing normal anatomy last, over tissue and CSF (the hard negatives of lesion detection)
        for structure, fraction in (("choroid", t.choroid), ("vessel", t.vessels), ("gland", t.gland),
                                    ("dura", t.dura), ("vessel", t.deep_veins), ("vessel", self.veins)):
            image += fraction * (intensity[structure] - image)
        return image


def _world_to_template(rng: np.random.Generator) -> np.ndarray:
    """Per-axis scaling of about +-7% and a slight shear: heads differ in size and proportions."""
    linear = np.diag(rng.uniform(0.93, 1.07, size=3))
    linear += np.triu(rng.uniform(-0.03, 0.03, size=(3, 3)), k=1)
    matrix = np.eye(4)
    matrix[:3, :3] = linear
    return matrix


def _thickness(rng, low, high, variation) -> np.ndarray:
    """A per-direction thickness map (mm): a case mean in [low, high] +- `variation`."""
    return rng.uniform(low, high) + variation * smooth_sphere_map(rng, SPHERE_BINS).ravel()


def make_head(template: TemplateAnatomy, rng: np.random.Generator) -> Head:
    """A random head on the template brain."""
    gap = np.maximum(_thickness(rng, 1.5, 3.0, 1.0), 0.8)
    bone = np.maximum(_thickness(rng, 5.0, 8.0, 2.0), 3.0)
    fat = np.maximum(_thickness(rng, 3.0, 6.0, 2.0), 1.0)
    skin = np.full_like(gap, rng.uniform(1.5, 2.5))
    total = gap + bone + fat + skin
    fat -= np.maximum(total - (MAX_LAYERS_MM - 0.5), 0.0)  # stay within the template's shell

    bins = template.shell_bin
    table = np.minimum(TABLE_MM, bone / 2.0)
    outer_table = (gap + bone - table).astype(np.float32)[bins]
    # Inner layers are measured from the brain, outer ones from the closed brain (skull base
    # filled), so the scalp does not dip between temporal lobes and cerebellum.
    inner_edges = np.stack([gap, gap + table]).astype(np.float32)[:, bins]
    outer_edges = (outer_table + np.cumsum(np.stack([table, fat, skin]), axis=0).astype(np.float32)[:, bins])
    softness = np.float32(template.spacing)

    def beyond(depth, edges):  # fraction of each voxel past each edge
        return np.clip((depth[None, :] - edges) / softness + np.float32(0.5), 0.0, 1.0)

    past_gap, past_inner_table = beyond(template.shell_depth, inner_edges)
    past_marrow, past_outer_table, past_fat, past_skin = beyond(
        template.shell_outer_depth, np.concatenate([outer_table[None], outer_edges]))
    shell = {
        "csf": 1.0 - past_gap,
        "bone": (past_gap - past_inner_table) + (past_marrow - past_outer_table),
        "marrow": np.maximum(past_inner_table - past_marrow, 0.0),
        "fat": past_outer_table - past_fat,
        "skin": past_fat - past_skin,
    }
    # The sinuses lie in the gap and in a groove of the inner table.
    in_groove = template.shell_depth < gap[bins] + 2.5
    sinus = template.sinus_path.reshape(-1)[template.shell_index] * in_groove
    shell = {name: (fraction * (1.0 - sinus)).astype(np.float32) for name, fraction in shell.items()}
    shell["sinus"] = sinus.astype(np.float32)
    on_skin = np.flatnonzero(np.abs(template.shell_outer_depth - outer_edges[-1]) < template.spacing / 2)
    on_skin = on_skin[:: max(1, int(round(8 / template.spacing)))]
    world_to_template = _world_to_template(rng)
    surface = apply(np.linalg.inv(world_to_template), template.points(template.shell_index[on_skin]))
    return Head(template=template, world_to_template=world_to_template, gap_mm=gap, shell=shell,
                surface_points=surface, veins=cortical_veins(rng, template))
