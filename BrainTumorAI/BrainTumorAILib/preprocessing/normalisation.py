"""Intensity normalisation inside the brain: WhiteStripe (Shinohara 2014) and z-score.

WhiteStripe is written here on NumPy/SciPy rather than taken from `intensity-normalization`
3.0.1: that package wants its own image wrappers and extra dependencies for what is a histogram
mode search and one mean/sd, and we need it on SimpleITK images with our own brain mask.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from ..errors import InputError
from ..image import copy_geometry

# Which histogram peak is normal-appearing white matter: the brightest tissue on T1-weighted
# images, the dominant (largest) tissue peak on T2-weighted and FLAIR images.
WHITE_MATTER_PEAK = {"t1": "last", "t1ce": "last", "t2": "largest", "flair": "largest"}


def _masked_values(image: sitk.Image, mask: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    array = sitk.GetArrayFromImage(image).astype(np.float32)
    inside = sitk.GetArrayViewFromImage(mask) > 0
    if inside.sum() < 100:
        raise InputError("brain mask is empty or too small to normalise intensities")
    return array, inside


def _rescaled(array: np.ndarray, mean: float, sd: float, reference: sitk.Image) -> sitk.Image:
    return copy_geometry(((array - mean) / max(sd, 1e-6)).astype(np.float32), reference)


def zscore(image: sitk.Image, mask: sitk.Image) -> sitk.Image:
    """(x - mean) / sd with mean and sd over the mask (Jünger 2021); float32, same grid."""
    array, inside = _masked_values(image, mask)
    values = array[inside]
    return _rescaled(array, float(values.mean()), float(values.std()), image)


def white_matter_mode(values: np.ndarray, modality: str, bins: int = 2000, smoothing_bins: float = 10.0) -> float:
    """Intensity of the white-matter peak of a smoothed histogram (WhiteStripe's tissue mode)."""
    if modality not in WHITE_MATTER_PEAK:
        raise ValueError(f"unknown modality {modality!r} for WhiteStripe")
    # The top 1% (vessels, enhancement, fat) would stretch the histogram and hide the peaks.
    high = np.quantile(values, 0.99)
    histogram, edges = np.histogram(values[values <= high], bins=bins)
    smooth = gaussian_filter1d(histogram.astype(float), smoothing_bins)
    peaks, _ = find_peaks(smooth, prominence=0.05 * smooth.max())
    if peaks.size == 0:  # a monotone histogram: its maximum is the only mode
        peaks = np.array([int(np.argmax(smooth))])
    centres = (edges[:-1] + edges[1:]) / 2
    if WHITE_MATTER_PEAK[modality] == "last":
        return float(centres[peaks[-1]])
    return float(centres[peaks[np.argmax(smooth[peaks])]])


def whitestripe(image: sitk.Image, mask: sitk.Image, modality: str, width: float = 0.05) -> sitk.Image:
    """WhiteStripe: centre and scale on the voxels within +/- `width` quantile of the WM mode.

    The normal-appearing white matter gets mean 0 and sd 1 (Shin 2021 uses this on T1CE and T2).
    """
    array, inside = _masked_values(image, mask)
    values = array[inside]
    mode = white_matter_mode(values, modality)
    mode_quantile = float(np.mean(values < mode))
    low, high = np.quantile(values, [max(mode_quantile - width, 0.0), min(mode_quantile + width, 1.0)])
    stripe = values[(values >= low) & (values <= high)]
    return _rescaled(array, float(stripe.mean()), float(stripe.std()), image)


def normalise(image: sitk.Image, mask: sitk.Image, method: str, modality: str) -> sitk.Image:
    """Apply one method by name: "whitestripe", "zscore" or "none" (cast to float32 only)."""
    if method == "whitestripe":
        return whitestripe(image, mask, modality)
    if method == "zscore":
        return zscore(image, mask)
    if method == "none":
        return sitk.Cast(image, sitk.sitkFloat32)
    raise ValueError(f"unknown normalisation {method!r}")
