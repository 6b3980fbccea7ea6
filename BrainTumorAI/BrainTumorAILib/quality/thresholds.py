"""Every quality threshold in one place, readable and overridable (`--quality-thresholds FILE`:
a JSON object with any of these keys, nested the same way; missing keys keep the defaults).

Calibrated on synthetic heads of `BrainTumorAILib.synthetic` (Utilities/measure_quality.py):
good cases sit well inside, the mismatches it makes (another head's T2, a noise cube, a
relabelled sequence, a 10 mm grid) well outside.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ..catalog import task_specs
from ..errors import InputError

DEFAULT_THRESHOLDS = {
    # Normalised correlation of brain-masked gradient magnitudes with the T1CE after registration:
    # edges of one head line up across contrasts, another head's or noise's do not.
    "coregistration_correlation": {"warning_below": 0.27, "failed_below": 0.23},
    # Dice of the Otsu head masks of a sequence and the T1CE where both were imaged. Otsu splits
    # each contrast's head differently: the bundled 1 mm demo case's FLAIR and T1 (thick 2D slices)
    # reach only 0.67-0.68 against the T1CE while their edges line up (correlation 0.42-0.78), so
    # this check only catches what is not a head; another head is the edge correlation's job.
    "head_mask_dice": {"warning_below": 0.6, "failed_below": 0.45},
    # Fraction of the brain inside each sequence's field of view.
    "brain_coverage": {"warning_below": 0.95, "failed_below": 0.8},
    # Brain-masked intensity statistics after z-scoring against the model set's training ranges
    # (its card's `input_statistics`): outside the range widened by `margin` times its width is
    # a warning, by `unreliable_margin` times its width unreliable. Wide, because the bundled
    # cards' ranges come from 3 phantoms each: at 1.5 / 3 widths 6 of 17 good phantoms were flagged.
    "input_statistics": {"margin": 3.0, "unreliable_margin": 6.0},
    # Contrast relations inside the brain (tissue classes from the T2's intensity ranks): a T1CE
    # or T1 has white matter brighter than grey matter and CSF; a FLAIR has CSF darker than grey
    # matter.
    # Values are differences of medians in z-score units; below `min_difference` is a warning.
    "sequence_labels": {"min_difference": 0.1},
}


def default_thresholds() -> dict:
    """DEFAULT_THRESHOLDS with `resolution_mm`: per task and input, the coarsest voxel it accepts
    (`slice` thickness and `in_plane` spacing, mm), from each task's spec."""
    thresholds = copy.deepcopy(DEFAULT_THRESHOLDS)
    thresholds["resolution_mm"] = {name: copy.deepcopy(dict(spec.resolution_mm))
                                   for name, spec in task_specs().items() if spec.resolution_mm}
    return thresholds


def load_thresholds(path=None) -> dict:
    """The defaults, overridden by the JSON file at `path` (InputError on unknown keys or bad JSON)."""
    thresholds = default_thresholds()
    if path is None:
        return thresholds
    path = Path(path)
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"quality thresholds {path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"quality thresholds {path}: not valid JSON ({error})") from None
    _merge(thresholds, overrides, str(path))
    return thresholds


def _merge(base: dict, overrides, where: str) -> None:
    if not isinstance(overrides, dict):
        raise InputError(f"quality thresholds {where}: expected a JSON object")
    for key, value in overrides.items():
        if key not in base:
            raise InputError(f"quality thresholds {where}: unknown key '{key}' (known: {', '.join(base)})")
        if isinstance(base[key], dict):
            _merge(base[key], value, f"{where}: {key}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            base[key] = float(value)
        else:
            raise InputError(f"quality thresholds {where}: '{key}' must be a number")
