"""One colour per lesion id, the same in the report's plots and slices and in Slicer's segments."""

from __future__ import annotations

# matplotlib's "tab10" (Vega category10): distinct, readable on grey anatomy and on white
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def lesion_colour(lesion_id: int) -> str:
    """Hex colour of a lesion id (ids beyond ten reuse the palette)."""
    return PALETTE[(int(lesion_id) - 1) % len(PALETTE)]


def lesion_rgb(lesion_id: int) -> tuple[float, float, float]:
    """The same colour as (r, g, b) in 0-1 (Slicer's segment colours)."""
    hex_colour = lesion_colour(lesion_id)
    return tuple(int(hex_colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
