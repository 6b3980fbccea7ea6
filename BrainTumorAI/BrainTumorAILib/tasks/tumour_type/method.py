"""Seven tumour types from one T1CE volume (Chakrabarty 2021): fixed-grid input, fold ensemble, Grad-CAM.

The whole T1CE (no ROI, no segmentation), preprocessed in the T1CE reference space, is
resampled onto a fixed grid: `size`^3 voxels of `spacing_mm`, axes along RAS, centred on the
head, so every case reaches the network at the same physical scale and orientation (a model
set may add a second channel, each grid voxel's local peak: not in the paper). The fold
models' softmax probabilities are averaged; the label is the arg-max. The 3D Grad-CAM of the
label (MONAI GradCAM, averaged over folds) is mapped back onto the T1CE input's exact grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch
from skimage.measure import block_reduce

from ...errors import InputError
from ...image import LPS_RAS_FLIP
from ...explain import ensemble_cam, normalise_unit
from ...preprocessing import head_mask, resample
from ...preprocessing.grid import empty_image, geometry, shrink_factors

TASK = "tumour-type"
# Chakrabarty 2021's classes, in the order of the network's outputs (result.json keys).
CLASSES = ("hgg", "lgg", "metastasis", "meningioma", "pituitary", "schwannoma", "healthy")
RAS_AXES = LPS_RAS_FLIP  # the LPS direction whose index axes point right, anterior, superior
FWHM_PER_SIGMA = 2.3548
# The network's input channels: "t1ce" the T1CE averaged over each grid voxel (Chakrabarty's
# input); "t1ce_peak" its brightest value near each grid voxel (see `local_peak`).
CHANNELS = ("t1ce", "t1ce_peak")


@dataclass(frozen=True)
class InputGrid:
    """The network's fixed grid: `size` voxels a side, `spacing_mm` apart, and its input `channels`
    (names in CHANNELS; the model set records all three)."""

    size: int
    spacing_mm: float
    channels: tuple[str, ...] = ("t1ce",)

    def __post_init__(self):
        if not self.channels or self.channels[0] != "t1ce" or len(set(self.channels)) != len(self.channels) \
                or not set(self.channels) <= set(CHANNELS):
            raise InputError(f"tumour-type input_grid channels {list(self.channels)}: the first must be t1ce, "
                             f"each one of {', '.join(CHANNELS)} once")

    @classmethod
    def from_settings(cls, preprocessing: dict) -> "InputGrid":
        try:
            grid = preprocessing["input_grid"]
            return cls(int(grid["size"]), float(grid["spacing_mm"]), tuple(grid.get("channels", ["t1ce"])))
        except (KeyError, TypeError, ValueError):
            raise InputError("tumour-type model set: preprocessing lacks input_grid {size, spacing_mm}") from None

    def to_json(self) -> dict:
        return {"size": self.size, "spacing_mm": self.spacing_mm, "channels": list(self.channels), "axes": "RAS",
                "centre": "head centroid"}


def head_centre(image: sitk.Image, spacing_mm: float) -> np.ndarray:
    """Centroid (LPS mm) of the Otsu head mask of a block-averaged copy near `spacing_mm`."""
    coarse = sitk.BinShrink(sitk.Cast(image, sitk.sitkFloat32), shrink_factors(image, spacing_mm))
    statistics = sitk.LabelShapeStatisticsImageFilter()
    statistics.Execute(head_mask(coarse))
    if not statistics.HasLabel(1):
        raise InputError("T1CE: no head found (the image is empty or constant)")
    return np.array(statistics.GetCentroid(1))


def fixed_grid(image: sitk.Image, grid: InputGrid) -> sitk.Image:
    """An empty RAS-aligned grid of `grid.size`^3 voxels centred on the image's head."""
    half_width = (grid.size - 1) / 2 * grid.spacing_mm
    origin = head_centre(image, grid.spacing_mm) - RAS_AXES @ np.full(3, half_width)
    return empty_image({"size": [grid.size] * 3, "spacing": [grid.spacing_mm] * 3, "origin": origin.tolist(),
                        "direction": RAS_AXES.ravel().tolist()}, sitk.sitkFloat32)


def anti_aliased(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Gaussian-smoothed so that its resolution matches `spacing_mm` voxels before resampling.

    Written here: SimpleITK has no resample-with-antialiasing; the sigma adds the missing blur
    in quadrature (FWHM of target voxel^2 - source voxel^2), so 1 mm and 3 mm inputs end alike.
    """
    spacing = np.array(image.GetSpacing())
    sigma = np.sqrt(np.maximum(spacing_mm ** 2 - spacing ** 2, 0.0)) / FWHM_PER_SIGMA
    image = sitk.Cast(image, sitk.sitkFloat32)
    for axis in np.flatnonzero(sigma > 0.2 * spacing):  # axes already as coarse need no blur
        image = sitk.RecursiveGaussian(image, float(sigma[axis]), False, sitk.RecursiveGaussianImageFilter.ZeroOrder,
                                       int(axis))
    return image


def local_peak(image: sitk.Image, target: sitk.Image) -> np.ndarray:
    """Each `target` voxel's brightest point (k, j, i): the image sampled at the eight points half a
    voxel apart inside it, and the largest of them kept.

    Averaged onto 4 mm voxels a 3 mm enhancing focus keeps a fraction of its contrast; the
    maximum keeps most of it, so a few small metastases stay visible to the classifier. No
    smoothing first: an input resampled onto 1 mm (as the runner's is) then gives nearly the same
    values as its original grid does in training. Written here: SimpleITK and MONAI have no
    resample-with-maximum (the maximum of each 2x2x2 block is scikit-image's).
    """
    fine = geometry(target)
    spacing, direction = np.array(fine["spacing"]), np.array(fine["direction"]).reshape(3, 3)
    fine.update(size=[2 * n for n in fine["size"]], spacing=(spacing / 2).tolist(),
                origin=(np.array(fine["origin"]) - direction @ (spacing / 4)).tolist())
    return block_reduce(on_grid(image, empty_image(fine, sitk.sitkFloat32)), (2, 2, 2), np.max)


def on_grid(image: sitk.Image, target: sitk.Image) -> np.ndarray:
    """`image` linearly resampled onto `target`, NaN outside its field of view, (k, j, i)."""
    return sitk.GetArrayFromImage(resample(image, target, default_value=np.nan, pixel_type=sitk.sitkFloat32))


def network_input(t1ce: sitk.Image, grid: InputGrid) -> tuple[np.ndarray, sitk.Image]:
    """The preprocessed T1CE on its fixed grid, one channel per `grid.channels`, z-scored over the
    head: (array (channel, k, j, i), grid image).

    The z-score over the grid's own head mask is unchanged by any earlier linear intensity
    scaling (e.g. the reference space's brain z-score), so it does not depend on which brain
    mask the preprocessing used. Every channel takes the averaged channel's mean and deviation,
    so a peak's height stays comparable with the tissue around it. Voxels outside the T1CE's
    field of view get the air level.
    """
    target = fixed_grid(t1ce, grid)
    averaged = on_grid(anti_aliased(t1ce, grid.spacing_mm), target)
    outside = ~np.isfinite(averaged)
    if outside.all():
        raise InputError("T1CE: the fixed input grid does not overlap the image")
    averaged[outside] = np.min(averaged[~outside])
    # A threshold at a fixed fraction of the range, not Otsu: it moves exactly with any linear
    # intensity change, and ITK's multithreaded Otsu gave run-to-run differences in the mask.
    low, high = float(averaged.min()), float(np.percentile(averaged, 99))
    head = averaged > low + 0.1 * (high - low)
    values = averaged[head].astype(np.float64)
    if values.size < 10 or values.std() <= 0:
        raise InputError("T1CE: too little head signal to normalise")
    views = {"t1ce": averaged}
    if "t1ce_peak" in grid.channels:
        views["t1ce_peak"] = local_peak(t1ce, target)
    array = (np.stack([views[name] for name in grid.channels]) - values.mean()) / values.std()
    air = np.median(array[0][~head]) if (~head).any() else array[0].min()
    array = np.where(outside | ~np.isfinite(array), air, array)
    return array.astype(np.float32), target


@torch.inference_mode()
def fold_probabilities(models, inputs: torch.Tensor, device: torch.device) -> np.ndarray:
    """Softmax probabilities per fold and case, shape (n_folds, n_cases, n_classes)."""
    result = []
    for model in models:
        model.eval()
        result.append(torch.softmax(model(inputs.to(device)).float(), dim=1).cpu().numpy())
    return np.stack(result)


def decide(fold_probs: np.ndarray, classes=CLASSES) -> dict:
    """One case's ensemble: mean probability over folds, arg-max label, how many folds agree."""
    mean = fold_probs.mean(axis=0)
    label = int(mean.argmax())
    fold_labels = fold_probs.argmax(axis=1)
    return {
        "label": classes[label],
        "probabilities": {name: round(float(p), 4) for name, p in zip(classes, mean)},
        "fold_labels": [classes[k] for k in fold_labels],
        "fold_probabilities": [{name: round(float(p), 4) for name, p in zip(classes, fold)} for fold in fold_probs],
        "fold_agreement": float(np.mean(fold_labels == label)),
        "n_folds": int(len(fold_probs)),
    }


def grad_cam(models, inputs: torch.Tensor, class_index: int, target: sitk.Image) -> sitk.Image:
    """Fold-mean Grad-CAM of `class_index` on the fixed grid, scaled to 0-1."""
    layer = models[0].cam_layer
    maps = ensemble_cam(models, inputs, torch.tensor([class_index]), method="gradcam", target_layer=layer)
    image = sitk.GetImageFromArray(normalise_unit(maps[0]))
    image.CopyInformation(target)
    return image


def to_t1ce_input(cam: sitk.Image, input_geometry: dict, to_input: np.ndarray) -> sitk.Image:
    """The map resampled onto the T1CE input's exact grid (zero outside the fixed grid).

    `to_input` maps reference-space points to T1CE input points (identity when T1CE is the reference).
    """
    mapped = resample(cam, empty_image(input_geometry), np.linalg.inv(to_input), pixel_type=sitk.sitkFloat32)
    return sitk.Cast(sitk.Clamp(mapped, sitk.sitkFloat32, 0.0, 1.0), sitk.sitkFloat32)


def predict(models, case, grid: InputGrid, device: torch.device, with_cam: bool = True,
            classes=CLASSES) -> tuple[dict, sitk.Image | None]:
    """The task on a T1CE-referenced PreprocessedCase: result dict and CAM on the T1CE input grid."""
    if "t1ce" not in case.images:
        raise InputError("tumour-type needs the T1CE")
    array, target = network_input(case.images["t1ce"], grid)
    inputs = torch.from_numpy(array)[None]
    result = decide(fold_probabilities(models, inputs, device)[:, 0], classes)
    result["input_grid"] = grid.to_json()
    if not with_cam:
        return result, None
    cam = grad_cam(models, inputs, classes.index(result["label"]), target)
    return result, to_t1ce_input(cam, case.input_geometry["t1ce"], case.transforms["t1ce"])
