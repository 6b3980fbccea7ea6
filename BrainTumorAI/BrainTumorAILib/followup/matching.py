"""Lesions matched over time: one id per lesion across studies, with new, resolved, split and merged ones.

Every study's labels are first mapped onto the baseline's grid. A later study's lesions are
compared with each known lesion's most recent mask: the overlap (Dice) decides first, the
distance between centroids (within `max_distance_mm`, for lesions of the study just before)
second, the overlap with a lesion that had resolved last; the one-to-one assignment minimising that cost is scipy's `linear_sum_assignment`.
Then an unassigned lesion that overlaps an assigned one's earlier mask is a fragment of it
(`split_from`, as RECIST 1.1 treats a fragmenting lesion: the fragments' diameters add up), a
known lesion whose earlier mask overlaps a lesion assigned to another is merged into it, any
other unassigned lesion is new. Baseline ids are the baseline label ids; new ones come after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

MAX_DISTANCE_MM = 15.0  # a lesion moving farther than this between studies (after registration) is another lesion
UNMATCHABLE = 1e6
RESOLVED_PENALTY = 2.0  # overlap costs 0-1, distance 1-2: a lesion of the study before always wins


@dataclass
class Track:
    """One lesion over the studies: its label id in each study where it is seen."""

    id: int
    first_study: int
    labels: dict[int, int] = field(default_factory=dict)   # study index -> label id in that study
    split_from: int | None = None                          # the lesion it broke off from
    merged_into: dict[int, int] = field(default_factory=dict)  # study index -> the lesion it joined

    def present(self, study: int) -> bool:
        return study in self.labels

    def status(self, study: int) -> str:
        """present, new, split, merged, resolved or not yet seen, at one study."""
        if study < self.first_study:
            return "not yet seen"
        if self.present(study):
            if study == self.first_study and study > 0:
                return "split" if self.split_from is not None else "new"
            return "present"
        return "merged" if study in self.merged_into else "resolved"


def _overlaps(previous: np.ndarray, current: np.ndarray) -> dict[tuple[int, int], int]:
    """Voxel counts of every (previous id, current id) pair that shares voxels."""
    both = (previous > 0) & (current > 0)
    pairs, counts = np.unique(np.stack([previous[both], current[both]]), axis=1, return_counts=True)
    return {(int(a), int(b)): int(n) for (a, b), n in zip(pairs.T, counts)}


def _sizes(labels: np.ndarray) -> dict[int, int]:
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist()))


def match_lesions(label_maps: Sequence[np.ndarray], centroids: Sequence[dict[int, Sequence[float]]],
                  max_distance_mm: float = MAX_DISTANCE_MM) -> list[Track]:
    """Tracks from label arrays on one grid (study order) and each label's centroid (mm, one space)."""
    baseline = label_maps[0]
    tracks = {int(i): Track(id=int(i), first_study=0, labels={0: int(i)}) for i in sorted(centroids[0])}
    latest = np.where(np.isin(baseline, list(tracks)), baseline, 0).astype(np.int32)  # each track's last mask
    last_centroid = {i: np.asarray(centroids[0][i], dtype=float) for i in tracks}
    next_id = max(tracks, default=0) + 1
    for study in range(1, len(label_maps)):
        current = label_maps[study]
        ids = sorted(centroids[study])
        known = sorted(tracks)
        overlap = _overlaps(latest, current)
        latest_size, current_size = _sizes(latest), _sizes(current)
        cost = np.full((len(known), len(ids)), UNMATCHABLE)
        for row, track_id in enumerate(known):
            for column, label in enumerate(ids):
                shared = overlap.get((track_id, label), 0)
                if shared:
                    cost[row, column] = 1.0 - 2.0 * shared / (latest_size[track_id] + current_size[label])
                    if not tracks[track_id].present(study - 1):  # a resolved lesion's old site comes last
                        cost[row, column] += RESOLVED_PENALTY
                elif tracks[track_id].present(study - 1):
                    distance = np.linalg.norm(np.asarray(centroids[study][label]) - last_centroid[track_id])
                    if distance <= max_distance_mm:
                        cost[row, column] = 1.0 + distance / max_distance_mm
        assigned = {}  # label -> track id
        for row, column in zip(*linear_sum_assignment(cost)):
            if cost[row, column] < UNMATCHABLE:
                assigned[ids[column]] = known[row]
        for label, track_id in assigned.items():
            tracks[track_id].labels[study] = label
        matched_now = set(assigned.values())
        for label in ids:
            if label in assigned:
                continue
            touching = sorted((n, t) for (t, l), n in overlap.items() if l == label and t in matched_now)
            parent = touching[-1][1] if touching else None
            if parent is not None and tracks[parent].split_from is not None:
                parent = tracks[parent].split_from  # a fragment of a fragment belongs to the original lesion
            tracks[next_id] = Track(id=next_id, first_study=study, labels={study: label}, split_from=parent)
            assigned[label] = next_id
            next_id += 1
        for track in tracks.values():
            if track.present(study) or not track.present(study - 1):
                continue
            joined = sorted((n, assigned[l]) for (t, l), n in overlap.items() if t == track.id)
            if joined:
                track.merged_into[study] = joined[-1][1]
        latest[np.isin(latest, list(assigned.values()))] = 0
        for label, track_id in assigned.items():
            latest[current == label] = track_id
            last_centroid[track_id] = np.asarray(centroids[study][label], dtype=float)
    return [tracks[i] for i in sorted(tracks)]
