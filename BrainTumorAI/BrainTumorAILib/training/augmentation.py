"""The presets' augmentations as MONAI dictionary transforms, shared by every task's dataset.

Keep the returned transform as an attribute of the dataset: the trainer's MONAI DataLoader
reseeds every Randomizable it finds there each epoch, which makes augmentation reproducible
and a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

from monai.transforms import Compose, OneOf, RandFlipd, RandGaussianSmoothd, RandRotate90d, ToTensord

AUGMENTATIONS = ("flip", "rot90", "thick_slice")
# Gaussian sigma (pixels) of the thick-slice blur: a 5-6 mm slice profile resampled onto ~1 mm pixels
THICK_SLICE_SIGMA = (0.5, 2.0)
THICK_SLICE_PROBABILITY = 0.5


def augmentation_transform(names, keys, spatial_dims: int, image_keys=()) -> Compose:
    """Random flips along every spatial axis, 90-degree turns in the last two axes and/or a
    thick-slice blur.

    `keys` are the dict entries transformed together (image and, for segmentation, its mask);
    arrays are channel-first with numpy axis order, so the last two spatial axes are the axial
    plane. Grøvik 2020 used flips and 90-degree rotations, Jünger 2021 flips. "thick_slice"
    blurs each of `image_keys` (never a mask) on its own along one random spatial axis, as a
    2D or thick-slice acquisition resampled onto the network's grid looks.
    """
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {AUGMENTATIONS}")
    if "thick_slice" in names and not image_keys:
        raise ValueError("the thick_slice augmentation needs the image keys it may blur")
    transforms = [_thick_slice(key, spatial_dims) for key in image_keys] if "thick_slice" in names else []
    if "flip" in names:
        transforms += [RandFlipd(keys=keys, prob=0.5, spatial_axis=axis) for axis in range(spatial_dims)]
    if "rot90" in names:
        # k is drawn from 1..3 when the turn happens, so prob 0.75 makes 0-3 quarter turns equally likely.
        transforms.append(RandRotate90d(keys=keys, prob=0.75, max_k=3,
                                        spatial_axes=(spatial_dims - 2, spatial_dims - 1)))
    # Plain tensors out: the trainer and losses need no MONAI metadata.
    transforms.append(ToTensord(keys=keys, track_meta=False))
    return Compose(transforms)


def _thick_slice(key: str, spatial_dims: int) -> OneOf:
    """Blur `key` along one of its spatial axes (sigma drawn from THICK_SLICE_SIGMA)."""
    # MONAI's sigma_x/y/z name spatial axes 0/1/2; an axis not blurred gets sigma 0 (identity).
    names = ("sigma_x", "sigma_y", "sigma_z")[:spatial_dims]
    along = [RandGaussianSmoothd(keys=[key], prob=THICK_SLICE_PROBABILITY,
                                 **{name: THICK_SLICE_SIGMA if i == axis else (0.0, 0.0)
                                    for i, name in enumerate(names)})
             for axis in range(spatial_dims)]
    return OneOf(along)
