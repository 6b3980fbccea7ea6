"""Per-patient results by number of true lesions (Grøvik 2020: 1-3, 4-10, >10 metastases),
compared between subgroups with the Wilcoxon rank-sum test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.stats import ranksums

from .results import JsonResult

# (name, smallest count, largest count or None for no upper bound)
LESION_COUNT_GROUPS = (("1-3", 1, 3), ("4-10", 4, 10), (">10", 11, None))


@dataclass
class SubgroupStats(JsonResult):
    name: str
    n_patients: int
    mean: float
    median: float


@dataclass
class RankSumTest(JsonResult):
    group_a: str
    group_b: str
    statistic: float
    p_value: float


@dataclass
class SubgroupComparison(JsonResult):
    groups: list[SubgroupStats]
    tests: list[RankSumTest]


def compare_by_lesion_count(values, lesion_counts, groups=LESION_COUNT_GROUPS) -> SubgroupComparison:
    """Group per-patient `values` by `lesion_counts` and rank-sum test every pair of groups.

    Patients outside every group (no true lesion) and NaN values are left out; a test with an
    empty group has NaN statistic and p-value.
    """
    values = np.asarray(values, dtype=float)
    counts = np.asarray(lesion_counts)
    members = {}
    for name, low, high in groups:
        in_group = (counts >= low) & (counts <= (np.inf if high is None else high)) & np.isfinite(values)
        members[name] = values[in_group]
    stats = [
        SubgroupStats(name, len(v), float(np.mean(v)) if len(v) else np.nan, float(np.median(v)) if len(v) else np.nan)
        for name, v in members.items()
    ]
    tests = []
    for a, b in itertools.combinations(members, 2):
        if len(members[a]) and len(members[b]):
            result = ranksums(members[a], members[b])
            tests.append(RankSumTest(a, b, float(result.statistic), float(result.pvalue)))
        else:
            tests.append(RankSumTest(a, b, float("nan"), float("nan")))
    return SubgroupComparison(stats, tests)
