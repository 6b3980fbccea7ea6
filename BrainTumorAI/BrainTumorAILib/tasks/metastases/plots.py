"""Figures of the metastasis statistics (beside metrics.plots' FROC): volume agreement and lesion
Dice by lesion-count subgroup. Built on matplotlib's Figure (Agg), never pyplot, like metrics.plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ...metrics import LESION_COUNT_GROUPS, CaseDetection
from ...metrics.plots import save_figure


def plot_volume_agreement(cases: list[CaseDetection], path, title: str = "Lesion volumes") -> Path:
    """Predicted against true volume of every detected lesion (log axes), with the identity line."""
    pairs = np.array([(l.volume_mm3, l.predicted_volume_mm3) for c in cases for l in c.lesions if l.detected])
    figure = Figure(figsize=(5, 5))
    ax = figure.add_subplot()
    if len(pairs):
        ax.loglog(pairs[:, 0], pairs[:, 1], "o", alpha=0.6)
        low, high = pairs.min() * 0.8, pairs.max() * 1.25
        ax.plot([low, high], [low, high], ":", color="grey", label="identity")
        ax.legend(loc="upper left")
    ax.set(xlabel="true volume (mm^3)", ylabel="predicted volume (mm^3)", title=f"{title} (n={len(pairs)})")
    return save_figure(figure, path)


def plot_lesion_dice_by_group(cases: list[CaseDetection], path, title: str = "Lesion Dice by lesion count") -> Path:
    """Box plot of detected lesions' Dice per patient lesion-count group (Grøvik 2020's 1-3, 4-10, >10)."""
    groups = []
    for name, low, high in LESION_COUNT_GROUPS:
        members = [c for c in cases if c.n_truth >= low and (high is None or c.n_truth <= high)]
        groups.append((name, [l.dice for c in members for l in c.lesions if l.detected]))
    figure = Figure(figsize=(5.5, 4))
    ax = figure.add_subplot()
    ax.boxplot([values if values else [np.nan] for _, values in groups],
               tick_labels=[f"{name}\n(n={len(values)})" for name, values in groups])
    ax.set(ylim=(0, 1.02), xlabel="true lesions per patient", ylabel="lesion Dice", title=title)
    return save_figure(figure, path)
