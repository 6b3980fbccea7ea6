"""The presets' augmentations as MONAI dictionary transforms, shared by every task's dataset.

Keep the returned transform as an attribute of the dataset: the trainer's MONAI DataLoader
reseeds every Randomizable it finds there each epoch, which makes augmentation reproducible
and a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

from monai.transforms import Compose, RandFlipd, RandRotate90d, ToTensord

AUGMENTATIONS = ("flip", "rot90")


def augmentation_transform(names, keys, spatial_dims: int) -> Compose:
    """Random flips along every spatial axis and/or 90-degree turns in the last two axes.

    `keys` are the dict entries transformed together (image and, for segmentation, its mask);
    arrays are channel-first with numpy axis order, so the last two spatial axes are the axial
    plane. Grøvik 2020 used flips and 90-degree rotations, Jünger 2021 flips.
    """
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {AUGMENTATIONS}")
    transforms = []
    if "flip" in names:
        transforms += [RandFlipd(keys=keys, prob=0.5, spatial_axis=axis) for axis in range(spatial_dims)]
    if "rot90" in names:
        # k is drawn from 1..3 when the turn happens, so prob 0.75 makes 0-3 quarter turns equally likely.
        transforms.append(RandRotate90d(keys=keys, prob=0.75, max_k=3,
                                        spatial_axes=(spatial_dims - 2, spatial_dims - 1)))
    # Plain tensors out: the trainer and losses need no MONAI metadata.
    transforms.append(ToTensord(keys=keys, track_meta=False))
    return Compose(transforms)
