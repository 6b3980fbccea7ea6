"""Bootstrap confidence intervals over cases, as in Shin 2021: 1000 draws of 90% of the cases.

Each draw takes round(fraction * n) cases *with* replacement (an m-out-of-n bootstrap). The
protocol's wording also allows drawing without replacement (subsampling), but 90% subsamples
overlap so much that their spread is about a third of the statistic's real sampling spread
(variance factor (1 - f) / f = 0.11 instead of 1), i.e. falsely narrow intervals. With
replacement the spread is about sqrt(1 / 0.9) = 1.05 times the n-out-of-n bootstrap's: slightly
conservative. Intervals are percentile intervals.

Hand-written because scipy.stats.bootstrap always resamples n cases out of n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .results import JsonResult

N_DRAWS = 1000
FRACTION = 0.9
LEVEL = 0.95


@dataclass
class ConfidenceInterval(JsonResult):
    """Percentile interval; `n_valid_draws` counts the draws where the statistic was defined."""

    low: float
    high: float
    level: float
    n_valid_draws: int


@dataclass
class BootstrapSettings(JsonResult):
    n_draws: int
    fraction: float
    with_replacement: bool
    level: float
    seed: int


def draw_case_indices(n_cases: int, n_draws: int = N_DRAWS, fraction: float = FRACTION, seed: int = 0) -> np.ndarray:
    """Case indices of every draw, shape (n_draws, round(fraction * n_cases)), with replacement."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    draw_size = max(1, int(round(fraction * n_cases)))
    return np.random.default_rng(seed).integers(0, n_cases, size=(n_draws, draw_size))


def percentile_interval(values, level: float = LEVEL) -> ConfidenceInterval:
    """Central `level` percentile interval of the finite values (NaN marks an undefined draw)."""
    values = np.asarray(values, dtype=float)
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        return ConfidenceInterval(float("nan"), float("nan"), level, 0)
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(valid, [tail, 100.0 - tail])
    return ConfidenceInterval(float(low), float(high), level, int(valid.size))


def bootstrap_draws(
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    n_cases: int,
    n_draws: int = N_DRAWS,
    fraction: float = FRACTION,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Evaluate `statistic(case_indices) -> {name: value}` on every draw; one array per name."""
    draws: dict[str, list[float]] = {}
    for indices in draw_case_indices(n_cases, n_draws, fraction, seed):
        for name, value in statistic(indices).items():
            draws.setdefault(name, []).append(value)
    return {name: np.asarray(values, dtype=float) for name, values in draws.items()}


def bootstrap_intervals(
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    n_cases: int,
    n_draws: int = N_DRAWS,
    fraction: float = FRACTION,
    level: float = LEVEL,
    seed: int = 0,
) -> dict[str, ConfidenceInterval]:
    """Percentile interval of every named value that `statistic` returns; {} when n_draws is 0."""
    draws = bootstrap_draws(statistic, n_cases, n_draws, fraction, seed)
    return {name: percentile_interval(values, level) for name, values in draws.items()}
