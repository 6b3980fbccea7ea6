"""How much of the brain each sequence imaged (a slab, a cropped field of view, a wrong file)."""

from __future__ import annotations

from .checks import check, graded
from .view import QualityView


def brain_coverage(view: QualityView, name: str) -> float:
    brain = view.brain.sum()
    return float((view.brain & view.field_of_view[name]).sum() / brain) if brain else 0.0


def coverage_checks(view: QualityView, thresholds: dict) -> dict[str, dict]:
    limits = thresholds["brain_coverage"]
    results = {}
    for name in view.images:
        value = brain_coverage(view, name)
        status = graded(value, limits["warning_below"], limits["failed_below"])
        message = (f"{name} covers {value:.0%} of the brain" if status == "ok" else
                   f"{name} covers only {value:.0%} of the brain")
        results[name] = {"brain_coverage": check(status, value, limits["failed_below"], message)}
    return results
