"""Key axial slices for the report, resampled in physical space and drawn as embeddable PNGs.

Every slice is cut from a one-voxel-thick slab with the identity LPS direction at a given
height S, so an oblique or anisotropic acquisition displays upright and the input, its
segmentation and its maps (each on its own grid) line up by physical position. On that grid
array columns run from patient right to left and rows from anterior to posterior, which
drawn with the first row on top is the radiological convention (patient right on image left).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from matplotlib.figure import Figure  # without pyplot: no display, no global backend change (Slicer)

from ..image import lps_to_ras, ras_to_lps
from ..roi import BoxROI

IDENTITY_DIRECTION = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
MAX_PIXELS = 320  # per side: keeps every PNG small enough to embed
HEAT_FLOOR = 0.15  # map values below this stay transparent so the anatomy shows through


@dataclass
class AxialSlice:
    """One axial cut on an axis-aligned grid: rows anterior -> posterior, columns right -> left."""

    s_ras: float
    pixel_mm: float
    corner_lps: tuple[float, float]  # (x, y) LPS mm of the centre of pixel [0, 0]
    background: np.ndarray | None = None
    labels: np.ndarray | None = None
    heat: np.ndarray | None = None
    roi: np.ndarray | None = None  # bool, pixels inside the ROI box

    def pixel_of_ras(self, point_ras) -> tuple[float, float]:
        """(row, column) of a RAS point projected onto this slice."""
        x, y, _ = ras_to_lps(point_ras)
        return (y - self.corner_lps[1]) / self.pixel_mm, (x - self.corner_lps[0]) / self.pixel_mm


def physical_bounds_lps(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest LPS coordinates reached by the image's voxels (their outer faces)."""
    size = np.array(image.GetSize())
    corners = [image.TransformContinuousIndexToPhysicalPoint([float(c) for c in np.where(bits, size - 0.5, -0.5)])
               for bits in np.ndindex(2, 2, 2)]
    corners = np.array(corners)
    return corners.min(axis=0), corners.max(axis=0)


def axial_slab(extent_of: sitk.Image, s_ras: float, pixel_mm: float | None = None) -> sitk.Image:
    """An empty one-slice grid, identity direction, covering `extent_of` in x and y at height S."""
    low, high = physical_bounds_lps(extent_of)
    span = high[:2] - low[:2]
    if pixel_mm is None:
        # the finest in-plane spacing, but not finer than 1 mm nor larger than MAX_PIXELS a side
        pixel_mm = max(min(extent_of.GetSpacing()), 1.0, float(span.max()) / MAX_PIXELS)
    size = [max(1, int(np.ceil(s / pixel_mm))) for s in span]
    slab = sitk.Image(size[0], size[1], 1, sitk.sitkFloat32)
    slab.SetSpacing((pixel_mm, pixel_mm, pixel_mm))
    slab.SetDirection(IDENTITY_DIRECTION)
    slab.SetOrigin((float(low[0] + pixel_mm / 2), float(low[1] + pixel_mm / 2), float(s_ras)))  # S is the same in LPS
    return slab


def resample_to_slab(image: sitk.Image, slab: sitk.Image, interpolator=sitk.sitkLinear) -> np.ndarray:
    """The image's values on the slab's pixels (0 outside the image), as a 2D array."""
    pixel_type = sitk.sitkUInt8 if interpolator == sitk.sitkNearestNeighbor else sitk.sitkFloat32
    source = sitk.Cast(image, pixel_type)
    cut = sitk.Resample(source, slab, sitk.Transform(), interpolator, 0.0, pixel_type)
    return sitk.GetArrayFromImage(cut)[0]


def roi_on_slab(roi: BoxROI, slab: sitk.Image) -> np.ndarray:
    """bool per slab pixel: its centre lies inside the (possibly rotated) ROI box."""
    columns, rows = slab.GetSize()[:2]
    x0, y0, z = slab.GetOrigin()
    step = slab.GetSpacing()[0]
    y, x = np.mgrid[0:rows, 0:columns] * step
    points_lps = np.stack([x.ravel() + x0, y.ravel() + y0, np.full(x.size, z)], axis=1)
    return roi.contains_ras(lps_to_ras(points_lps)).reshape(rows, columns)


def cut_axial_slice(s_ras: float, extent_of: sitk.Image, background: sitk.Image | None = None,
                    labels: sitk.Image | None = None, heat: sitk.Image | None = None,
                    roi: BoxROI | None = None) -> AxialSlice:
    """The axial slice at height `s_ras` of each given image, all on one axis-aligned grid."""
    slab = axial_slab(extent_of, s_ras)
    cut = AxialSlice(float(s_ras), slab.GetSpacing()[0], tuple(slab.GetOrigin()[:2]))
    if background is not None:
        cut.background = resample_to_slab(background, slab)
    if labels is not None:
        cut.labels = resample_to_slab(labels, slab, sitk.sitkNearestNeighbor)
    if heat is not None:
        cut.heat = resample_to_slab(heat, slab)
    if roi is not None:
        cut.roi = roi_on_slab(roi, slab)
    return cut


def peak_ras(image: sitk.Image) -> np.ndarray | None:
    """RAS position of the image's largest value, None when the image is all zero."""
    array = sitk.GetArrayViewFromImage(image)
    if not np.any(array > 0):
        return None
    k, j, i = np.unravel_index(int(np.argmax(array)), array.shape)
    return lps_to_ras(image.TransformIndexToPhysicalPoint((int(i), int(j), int(k))))


@dataclass(frozen=True)
class KeySlice:
    """A height worth showing and why, in words for the caption."""

    s_ras: float
    reason: str


def choose_key_slices(extent_of: sitk.Image, heat: sitk.Image | None = None, roi: BoxROI | None = None,
                      lesions=(), heat_name: str = "map", limit: int = 3) -> list[KeySlice]:
    """Through the ROI centre, the largest lesions and the map's peak (in that order), skipping
    heights that would show nearly the same picture as one already chosen (closer than 3 mm or
    than half the input's thickest spacing); mid-volume when none applies."""
    min_gap_mm = max(3.0, max(extent_of.GetSpacing()) / 2)
    candidates = []
    if roi is not None:
        candidates.append(KeySlice(float(roi.center_ras[2]), "through the ROI centre"))
    for row in sorted(lesions, key=lambda r: -(r.get("volume_mm3") or 0.0))[:2]:
        if row.get("centroid_s") is not None:
            candidates.append(KeySlice(float(row["centroid_s"]), f"through lesion {row.get('id')} "
                                       f"({row.get('volume_mm3', 0):.0f} mm³)"))
    peak = peak_ras(heat) if heat is not None else None
    if peak is not None:
        candidates.append(KeySlice(float(peak[2]), f"through the peak of the {heat_name}"))
    chosen: list[KeySlice] = []
    for candidate in candidates:
        if all(abs(candidate.s_ras - c.s_ras) >= min_gap_mm for c in chosen):
            chosen.append(candidate)
    if not chosen:
        low, high = physical_bounds_lps(extent_of)
        chosen.append(KeySlice(float((low[2] + high[2]) / 2), "mid-volume"))
    return chosen[:limit]


def _display_window(values: np.ndarray) -> tuple[float, float]:
    """Grey levels from the 1st to the 99.5th percentile of the non-zero (head) pixels."""
    head = values[values > 0]
    if head.size < 10:
        return 0.0, float(values.max()) or 1.0
    low, high = np.percentile(head, [1.0, 99.5])
    return float(low), float(max(high, low + 1e-6))


def _orientation_letters(ax) -> None:
    for text, x, y in (("R", 0.02, 0.5), ("L", 0.98, 0.5), ("A", 0.5, 0.98), ("P", 0.5, 0.02)):
        ax.text(x, y, text, transform=ax.transAxes, color="yellow", fontsize=11, fontweight="bold",
                ha="center", va="center")


LESION_COLOUR, ROI_COLOUR, HEAT_COLOURS = "#00ffff", "#39ff14", "autumn_r"  # apart from each other


def draw_labels(ax, labels: np.ndarray, colour_of=lambda lesion_id: LESION_COLOUR) -> None:
    """Each lesion's outline with its id (the lesion table's id) beside it; `colour_of` maps an id to a colour."""
    for lesion_id in np.unique(labels[labels > 0]):
        mask = labels == lesion_id
        colour = colour_of(int(lesion_id))
        ax.contour(mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.2)
        rows, columns = np.nonzero(mask)
        ax.text(columns.max() + 2, rows.min(), str(int(lesion_id)), color=colour, fontsize=9,
                fontweight="bold")


def draw_background(ax, background: np.ndarray) -> None:
    """The grey-level image, windowed on the head, with the orientation letters and no axes."""
    low, high = _display_window(background)
    ax.imshow(background, cmap="gray", vmin=low, vmax=high, interpolation="bilinear")
    ax.set_axis_off()
    _orientation_letters(ax)


def render_axial_slice(cut: AxialSlice, title: str, heat_name: str = "map") -> bytes:
    """Two panels of equal size, the input alone (left) and with the overlays (right), as PNG bytes."""
    shape = next(a.shape for a in (cut.background, cut.labels, cut.heat, cut.roi) if a is not None)
    panel_height = 3.4
    panel_width = panel_height * shape[1] / shape[0]
    figure = Figure(figsize=(2 * panel_width + 1.1, panel_height + 0.6), dpi=100, facecolor="white")
    grid = figure.add_gridspec(1, 3, width_ratios=(panel_width, panel_width, 0.12), wspace=0.04,
                               left=0.01, right=0.91, bottom=0.01, top=0.88)
    plain, overlaid, bar_axis = (figure.add_subplot(grid[0, i]) for i in range(3))
    background = cut.background if cut.background is not None else np.zeros(shape, np.float32)
    for ax in (plain, overlaid):
        draw_background(ax, background)
    if cut.heat is not None:
        heat = np.ma.masked_less(cut.heat, HEAT_FLOOR)
        heat_image = overlaid.imshow(heat, cmap=HEAT_COLOURS, vmin=0.0, vmax=1.0, alpha=0.5, interpolation="bilinear")
        bar = figure.colorbar(heat_image, cax=bar_axis)
        bar.set_label(heat_name, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    else:
        bar_axis.set_axis_off()
    if cut.roi is not None and cut.roi.any():
        overlaid.contour(cut.roi.astype(float), levels=[0.5], colors=[ROI_COLOUR], linewidths=1.3,
                         linestyles="dashed")
    if cut.labels is not None and cut.labels.any():
        draw_labels(overlaid, cut.labels)
    figure.suptitle(title, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A `data:` URI, so the image lives inside the HTML file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
