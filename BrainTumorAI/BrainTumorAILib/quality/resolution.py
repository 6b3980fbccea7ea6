"""Is each input fine enough for the task? Slice thickness and in-plane spacing against what the
task's method was built on (thresholds.py names the papers' acquisitions)."""

from __future__ import annotations

import SimpleITK as sitk

from .checks import check


def voxel_size(image: sitk.Image) -> tuple[float, float]:
    """(slice thickness, in-plane spacing): the largest spacing, and the larger of the other two."""
    spacing = sorted(image.GetSpacing())
    return float(spacing[2]), float(spacing[1])


def resolution_checks(task: str, images: dict[str, sitk.Image], thresholds: dict) -> dict[str, dict]:
    needs = thresholds["resolution_mm"].get(task, {})
    results = {}
    for name, limits in needs.items():
        if name not in images:
            continue
        thickness, in_plane = voxel_size(images[name])
        for kind, value in (("slice", thickness), ("in_plane", in_plane)):
            limit = limits[kind]
            words = "slice thickness" if kind == "slice" else "in-plane spacing"
            if value > limit:
                results[f"{name}_{kind}_mm"] = check(
                    "unreliable", value, limit, f"{name} {words} {value:.1f} mm is coarser than the "
                                                f"{limit:g} mm {task} was built for: its answer is not reliable")
            else:
                results[f"{name}_{kind}_mm"] = check("ok", value, limit, f"{name} {words} {value:.1f} mm")
    return results
