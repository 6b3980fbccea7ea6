"""Smooth random fields for phantom shapes and textures.

Hand-written because no library offers a band-limited random field defined in physical space:
a lesion's shape must not depend on the grid it is drawn on, so the field is a sum of random
plane waves, a function of position in mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class PlaneWaveNoise:
    """A smooth random field in [-1, 1]: the normalised sum of random plane waves, clipped.

    `wavelength_mm` (low, high) bounds the feature size; more waves give a more Gaussian field.
    The clipping (rarely active) lets shapes deformed by it be bounded in advance.
    """

    def __init__(self, rng: np.random.Generator, wavelength_mm, n_waves: int = 10):
        directions = rng.normal(size=(n_waves, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        wavelengths = rng.uniform(wavelength_mm[0], wavelength_mm[1], size=n_waves)
        self.wave_vectors = directions * (2 * np.pi / wavelengths)[:, None]
        self.phases = rng.uniform(0, 2 * np.pi, size=n_waves)
        # The sum of n cosines with random phases has standard deviation sqrt(n / 2); dividing
        # by twice that leaves ~95% of the values inside [-1, 1] before clipping.
        self.scale = 1.0 / (2.0 * np.sqrt(n_waves / 2.0))

    def on_grid(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Field values (z, y, x) on the axis-aligned grid of coordinates x, y, z (mm).

        Each wave factorises into per-axis complex exponentials: far cheaper than a cosine of
        every grid point's phase.
        """
        out = np.zeros((z.size, y.size, x.size), np.float32)
        for (kx, ky, kz), phase in zip(self.wave_vectors, self.phases):
            ex, ey, ez = np.exp(1j * kx * x), np.exp(1j * ky * y), np.exp(1j * (kz * z + phase))
            plane = (ey[:, None] * ex[None, :]).astype(np.complex64)
            out += ez.real.astype(np.float32)[:, None, None] * plane.real[None]
            out -= ez.imag.astype(np.float32)[:, None, None] * plane.imag[None]
        return np.clip(out * np.float32(self.scale), -1.0, 1.0)


def smooth_sphere_map(rng: np.random.Generator, shape=(24, 48), sigma_bins: float = 3.0) -> np.ndarray:
    """A smooth random map over directions (polar, azimuth bins), zero mean, unit peak magnitude.

    The azimuth wraps around, the poles do not: enough for skull and scalp thickness that varies
    smoothly around the head.
    """
    field = rng.normal(size=shape)
    field = ndimage.gaussian_filter(field, sigma_bins, mode=("nearest", "wrap"))
    field -= field.mean()
    return field / max(np.abs(field).max(), 1e-6)
