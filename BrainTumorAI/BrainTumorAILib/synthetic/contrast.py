"""Signal of each tissue and lesion compartment on each sequence, drawn afresh for every case.

Values are relative (T1 white matter about 1) and become arbitrary scanner units later. Each
case draws its own values inside ranges that keep the textbook orderings (T1: WM > GM > CSF;
T2: CSF > GM > WM; FLAIR: CSF suppressed, oedema bright) while varying the contrast between
cases, so that no absolute or relative intensity alone gives a lesion or its class away.
"""

from __future__ import annotations

import numpy as np

SEQUENCES = ("t1", "t1ce", "t2", "flair")

# Typical values per sequence (t1, t1ce, t2, flair). Enhancing anatomy (sinuses, choroid
# plexus, cortical and deep veins, falx and tentorium, pituitary gland) is bright on T1CE so
# that "bright on T1CE" is not by itself a lesion; scalp fat and marrow are bright on T1 and T1CE for the same reason.
TISSUES = {
    "wm":      (1.00, 1.00, 0.45, 0.55),
    "gm":      (0.65, 0.68, 0.62, 0.78),
    "csf":     (0.22, 0.22, 1.45, 0.10),
    "bone":    (0.06, 0.06, 0.05, 0.05),
    "marrow":  (0.85, 0.90, 0.70, 0.60),
    "fat":     (1.35, 1.35, 0.95, 0.90),
    "skin":    (0.55, 0.60, 0.45, 0.45),
    "sinus":   (0.40, 1.70, 0.12, 0.15),
    "choroid": (0.60, 1.40, 0.90, 0.45),
    "vessel":  (0.30, 1.50, 0.15, 0.20),
    "gland":   (0.70, 1.45, 0.65, 0.70),
    "dura":    (0.45, 1.30, 0.30, 0.35),
}
TISSUE_JITTER = 0.07  # log-normal spread of each tissue's value between cases

# Ranges (low, high) per sequence for lesion compartments; a case draws one value in each.
# GBM's peritumoral zone is infiltrated tumour (less T2-bright, involves cortex) and a
# metastasis's is pure vasogenic oedema; the ranges overlap on purpose (Shin 2021 relies on the
# peritumoral T2 zone, but it is a tendency, not a rule).
COMPARTMENTS = {
    "enhancing":           ((0.55, 0.75), (1.30, 2.00), (0.65, 1.00), (0.80, 1.10)),
    "necrosis":            ((0.22, 0.45), (0.22, 0.45), (1.00, 1.40), (0.35, 0.90)),
    "vasogenic_oedema":    ((0.55, 0.78), (0.55, 0.78), (0.90, 1.25), (0.95, 1.35)),
    "infiltrative_oedema": ((0.62, 0.82), (0.62, 0.84), (0.75, 1.05), (0.90, 1.20)),
    "nonenhancing_tumour": ((0.40, 0.60), (0.40, 0.62), (0.95, 1.30), (0.85, 1.25)),
    "meningioma":          ((0.55, 0.70), (1.40, 2.00), (0.55, 0.95), (0.60, 0.95)),
    "pituitary_adenoma":   ((0.55, 0.72), (1.00, 1.50), (0.60, 0.95), (0.60, 0.90)),
    "schwannoma":          ((0.50, 0.65), (1.30, 1.90), (0.85, 1.30), (0.75, 1.10)),
    "cyst":                ((0.20, 0.35), (0.20, 0.38), (1.20, 1.45), (0.15, 0.50)),
    "white_matter_lesion": ((0.75, 0.90), (0.75, 0.92), (0.85, 1.10), (1.00, 1.30)),
}


def tissue_intensities(rng: np.random.Generator) -> dict:
    """{sequence: {tissue: value}} for one case."""
    out = {seq: {} for seq in SEQUENCES}
    for tissue, values in TISSUES.items():
        factors = np.exp(rng.normal(0.0, TISSUE_JITTER, size=len(SEQUENCES)))
        for seq, value, factor in zip(SEQUENCES, values, factors):
            out[seq][tissue] = float(value * factor)
    return out


def compartment_intensities(rng: np.random.Generator, compartment: str) -> dict:
    """{sequence: value} for one lesion compartment of one case."""
    return {seq: float(rng.uniform(*bounds)) for seq, bounds in zip(SEQUENCES, COMPARTMENTS[compartment])}
