"""Sequence-label sanity: does the volume called T1CE (or T1, FLAIR) have that contrast?

Tissue classes come from the T2's intensity ranks inside the brain (T2: CSF brightest, white
matter darkest): its lowest 40 % are mostly white matter, 45-75 % grey matter, the top 8 % CSF.
Oedema and tumour are T2-bright too: for the FLAIR check (where they are bright and CSF dark)
CSF is also required to be among the darkest 30 % of a T1-weighted volume, where they are not.
A T1-weighted volume has white matter brighter than grey matter and CSF; a FLAIR has CSF darker
than grey matter (a T2 has it brighter). A T2 or FLAIR called T1CE breaks the first, a T2 called
FLAIR the second.
"""

from __future__ import annotations

import numpy as np

from .checks import check
from .view import QualityView

ANCHOR = "t2"
CLASSES = {"wm": (0, 40), "gm": (45, 75), "csf": (92, 100)}  # percentile bands of the T2 in the brain
# (brighter class, darker class) pairs each contrast must keep
RELATIONS = {"t1ce": (("wm", "gm"), ("wm", "csf")), "t1": (("wm", "gm"), ("wm", "csf")),
             "flair": (("gm", "csf"),)}
EXPECTED = {"t1ce": "T1-weighted", "t1": "T1-weighted", "flair": "FLAIR"}


def tissue_classes(view: QualityView, inside: np.ndarray) -> dict[str, np.ndarray]:
    anchor = view.images[ANCHOR]
    bounds = np.percentile(anchor[inside], sorted({b for band in CLASSES.values() for b in band}))
    edges = dict(zip(sorted({b for band in CLASSES.values() for b in band}), bounds))
    return {name: inside & (anchor >= edges[lo]) & (anchor <= edges[hi]) for name, (lo, hi) in CLASSES.items()}


T1_WEIGHTED = ("t1", "t1ce")
CSF_T1_PERCENTILE = 30


def contrast_margin(view: QualityView, name: str) -> float:
    """The smallest brighter-minus-darker median difference of the relations `name` must keep (z units)."""
    inside = view.brain & view.field_of_view[name] & view.field_of_view[ANCHOR]
    classes = tissue_classes(view, inside)
    t1_weighted = next((s for s in T1_WEIGHTED if s in view.images and s != name), None)
    if name == "flair" and t1_weighted is not None:
        dark = view.images[t1_weighted] <= np.percentile(view.images[t1_weighted][inside], CSF_T1_PERCENTILE)
        classes["csf"] = classes["csf"] & dark
    if any(mask.sum() < 20 for mask in classes.values()):
        return 0.0
    medians = {tissue: float(np.median(view.images[name][mask])) for tissue, mask in classes.items()}
    return min(medians[bright] - medians[dark] for bright, dark in RELATIONS[name])


def label_checks(view: QualityView, thresholds: dict) -> dict[str, dict]:
    if ANCHOR not in view.images:
        return {}
    limit = thresholds["sequence_labels"]["min_difference"]
    results = {}
    for name in RELATIONS:
        if name not in view.images:
            continue
        value = contrast_margin(view, name)
        if value >= limit:
            record = check("ok", value, limit, f"{name} has {EXPECTED[name]} contrast")
        else:
            record = check("warning", value, limit,
                           f"{name} does not look {EXPECTED[name]} (white matter, grey matter and CSF in "
                           f"the wrong order against the t2): is it labelled right?")
        results[name] = {"contrast": record}
    return results
