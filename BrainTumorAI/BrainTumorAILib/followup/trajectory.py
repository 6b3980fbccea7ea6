"""The lesions of one patient over the studies: each lesion's size per study, keyed by its stable id."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Callable

from .matching import Track
from .measurement import LesionSize


@dataclass
class Trajectory:
    """Studies in date order (index 0 is the baseline); `sizes[k]` holds the lesions present at study k."""

    dates: list[datetime.date]
    sizes: list[dict[int, LesionSize]]
    tracks: list[Track]

    def track(self, lesion_id: int) -> Track:
        return next(t for t in self.tracks if t.id == lesion_id)

    def burden(self, lesion_id: int, study: int, measure: Callable[[LesionSize], float]) -> float:
        """A lesion's measure at a study, its fragments' added (RECIST 1.1); 0 when resolved or merged."""
        parts = [lesion_id] + [t.id for t in self.tracks if t.split_from == lesion_id]
        return sum(measure(self.sizes[study][i]) for i in parts if i in self.sizes[study])

    def new_lesions(self, study: int) -> list[int]:
        """Lesions present at `study` that the baseline did not have (fragments of known lesions excluded)."""
        return [t.id for t in self.tracks
                if t.first_study > 0 and t.split_from is None and t.present(study)]

    def confirmed(self, lesion_id: int, study: int) -> bool:
        """Seen on two consecutive studies around `study` (the one before or the one after)."""
        track = self.track(lesion_id)
        return track.present(study) and (track.present(study - 1) or track.present(study + 1))
