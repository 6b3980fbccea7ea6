"""Out-of-distribution signal: brain-masked intensity statistics after z-scoring, against the
ranges the model set's training cases had (model card field `input_statistics`).

Noise, a wrong sequence or a wrong contrast shifts the shape of the brain's intensity
distribution (its percentiles after z-scoring), which training cases never showed.
"""

from __future__ import annotations

import numpy as np

from .checks import check
from .view import QualityView

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
MIN_WIDTH = 0.25  # z units: a range narrower than this is widened, or one case would flag everything


def intensity_statistics(view: QualityView, name: str) -> dict[str, float]:
    """Percentiles of the z-scored sequence inside the brain (its normalisation mask)."""
    values = view.images[name][view.brain]
    return {f"p{q}": round(float(v), 4) for q, v in zip(PERCENTILES, np.percentile(values, PERCENTILES))}


def statistics_ranges(samples: list[dict[str, dict[str, float]]]) -> dict:
    """Card field `input_statistics` from per-case statistics ({sequence: {stat: value}} each)."""
    ranges = {}
    for name in sorted({name for sample in samples for name in sample}):
        values = [sample[name] for sample in samples if name in sample]
        ranges[name] = {stat: [round(min(v[stat] for v in values), 4), round(max(v[stat] for v in values), 4)]
                        for stat in values[0]}
    return {"method": f"percentiles {', '.join(map(str, PERCENTILES))} of brain-masked z-scored intensities on a "
                      f"2 mm T1CE grid after N4, registration and brain extraction (BrainTumorAILib.quality)",
            "n_cases": len(samples), "sequences": ranges}


def distance_outside(value: float, low: float, high: float) -> float:
    """How far `value` lies outside [low, high], in widths of the range (0 inside)."""
    width = max(high - low, MIN_WIDTH)
    return max(low - value, value - high, 0.0) / width


def distribution_checks(view: QualityView, sequences, reference: dict | None, thresholds: dict) -> dict[str, dict]:
    """{`<sequence>_intensities`: record} for the task's sequences; none without reference statistics."""
    if not reference:
        return {}
    limits = thresholds["input_statistics"]
    results = {}
    for name in sequences:
        ranges = reference["sequences"].get(name)
        if name not in view.images or not ranges:
            continue
        observed = intensity_statistics(view, name)
        distances = {stat: distance_outside(observed[stat], *ranges[stat]) for stat in ranges if stat in observed}
        stat, value = max(distances.items(), key=lambda item: item[1])
        if value > limits["unreliable_margin"]:
            status = "unreliable"
        else:
            status = "warning" if value > limits["margin"] else "ok"
        message = (f"{name} intensities inside the brain are like the training cases'" if status == "ok" else
                   f"{name} intensities inside the brain are unlike the training cases' ({stat} "
                   f"{observed[stat]:.2f}, training {ranges[stat][0]:.2f} to {ranges[stat][1]:.2f}): "
                   f"noise, another sequence or contrast?")
        results[f"{name}_intensities"] = check(status, value, limits["margin"], message)
    return results
