"""Input quality control: is each sequence the same head, aligned, fully imaged, of the contrast
its label says, fine enough and like the model set's training inputs? Written as result.json's
`quality` block (each check: status ok | warning | unreliable | failed, value, threshold, message).
"""

from .assess import assess_quality, quality_notes
from .checks import STATUSES, check, worst
from .distribution import intensity_statistics, statistics_ranges
from .thresholds import DEFAULT_THRESHOLDS, default_thresholds, load_thresholds
from .view import QualityView, quality_view

__all__ = [
    "DEFAULT_THRESHOLDS", "default_thresholds", "QualityView", "STATUSES", "assess_quality", "check", "intensity_statistics",
    "load_thresholds", "quality_notes", "quality_view", "statistics_ranges", "worst",
]
