"""The response engine RANO-BM and RANO 2.0 share: target lesions chosen at baseline, their summed
measure compared with the baseline (response) and with the nadir (progression), new lesions, and
the clinical items the reader confirms. Each criterion (rano_bm.py, rano2.py) is a `Criterion`:
its measure, what is measurable, how many targets, its thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .clinical import ClinicalState
from .measurement import LesionSize
from .trajectory import Trajectory

CATEGORIES = {"CR": "complete response", "PR": "partial response", "SD": "stable disease",
              "PD": "progressive disease"}
TOLERANCE = 1e-9  # an exact threshold (e.g. a 30 % decrease) counts as reached despite rounding
PENDING = "pending clinical confirmation"


@dataclass(frozen=True)
class Criterion:
    name: str
    measure_name: str                      # what is summed, for the record ("longest diameter", ...)
    unit: str
    measure: Callable[[LesionSize], float]
    measurable: Callable[[LesionSize], bool]
    max_targets: int
    response_decrease: float               # fraction below baseline for PR
    progression_increase: float            # fraction above nadir for PD
    progression_absolute: float = 0.0      # and at least this much above nadir (unit)
    source: str = ""


@dataclass(frozen=True)
class Assessment:
    """One study judged by one criterion."""

    category: str            # CR, PR, SD, PD ("baseline" at the baseline)
    imaging_category: str    # before the clinical items
    pending: tuple[str, ...]  # clinical items not entered that could change the category
    target_sum: float
    baseline_sum: float
    nadir_sum: float | None
    new_lesions: tuple[int, ...]
    equivocal_new_lesions: tuple[int, ...]
    reasons: tuple[str, ...]

    @property
    def display(self) -> str:
        if not self.pending:
            return self.category
        return f"{self.category} ({PENDING}: {', '.join(self.pending)})"

    def to_json(self, unit: str) -> dict:
        def change(reference):
            if reference is None or reference <= 0:
                return None
            return round(100.0 * (self.target_sum - reference) / reference, 2)
        return {"category": self.category, "imaging_category": self.imaging_category,
                "pending": list(self.pending), "display": self.display,
                f"sum_{unit}": round(self.target_sum, 3), f"baseline_sum_{unit}": round(self.baseline_sum, 3),
                f"nadir_sum_{unit}": None if self.nadir_sum is None else round(self.nadir_sum, 3),
                "change_from_baseline_pct": change(self.baseline_sum), "change_from_nadir_pct": change(self.nadir_sum),
                "new_lesions": list(self.new_lesions), "equivocal_new_lesions": list(self.equivocal_new_lesions),
                "reasons": list(self.reasons)}


def choose_targets(criterion: Criterion, baseline: dict[int, LesionSize]) -> tuple[list[int], list[int]]:
    """Target lesions (measurable, largest measure first, up to the criterion's limit) and the rest."""
    measurable = sorted((i for i, size in baseline.items() if criterion.measurable(size)),
                        key=lambda i: (-criterion.measure(baseline[i]), i))
    targets = measurable[:criterion.max_targets]
    return targets, sorted(i for i in baseline if i not in targets)


def _imaging_category(criterion: Criterion, trajectory: Trajectory, study: int, targets: list[int],
                      sums: list[float]) -> tuple[str, list[int], list[int], list[str]]:
    baseline_sum, now = sums[0], sums[study]
    nadir = min(sums[:study])
    new = trajectory.new_lesions(study)
    unequivocal = [i for i in new if criterion.measurable(trajectory.sizes[study][i]) or trajectory.confirmed(i, study)]
    equivocal = [i for i in new if i not in unequivocal]
    reasons = []
    if unequivocal:
        reasons.append(f"new lesion {', '.join(map(str, unequivocal))}")
    if targets and now - nadir >= criterion.progression_increase * nadir - TOLERANCE \
            and now - nadir >= criterion.progression_absolute - TOLERANCE and now > nadir:
        reasons.append(f"{criterion.measure_name} sum {now:.1f} {criterion.unit}, "
                       f"{100 * (now - nadir) / nadir:+.1f} % from nadir {nadir:.1f}")
    if reasons:
        return "PD", unequivocal, equivocal, reasons
    baseline_ids = [t.id for t in trajectory.tracks if t.first_study == 0]
    if not new and not any(trajectory.burden(i, study, criterion.measure) > 0 for i in baseline_ids):
        return "CR", unequivocal, equivocal, ["every baseline lesion gone, no new lesion"]
    if targets and now <= (1 - criterion.response_decrease) * baseline_sum + TOLERANCE:
        return "PR", unequivocal, equivocal, [f"{criterion.measure_name} sum {now:.1f} {criterion.unit}, "
                                              f"{100 * (now - baseline_sum) / baseline_sum:+.1f} % from baseline "
                                              f"{baseline_sum:.1f}"]
    if not targets:
        return "SD", unequivocal, equivocal, ["no measurable target lesion at baseline: non-CR/non-PD"]
    return "SD", unequivocal, equivocal, [f"{criterion.measure_name} sum {now:.1f} {criterion.unit} "
                                          f"(baseline {baseline_sum:.1f}, nadir {nadir:.1f})"]


def _with_clinical(imaging: str, state: ClinicalState, reasons: list[str]) -> tuple[str, list[str]]:
    """The category after the reader's items (Lin 2015, Wen 2023), and the items still missing."""
    pending = []
    if imaging == "PD":
        return "PD", pending
    if state.non_target_progression:
        reasons.append("unequivocal progression of non-target lesions (reader)")
        return "PD", pending
    if state.clinical_status == "worse":
        reasons.append("clinical worsening (reader)")
        return "PD", pending
    category = imaging
    if category in ("CR", "PR") and state.steroids is not None and (
            state.steroids == "increased" or (category == "CR" and state.steroids != "none")):
        reasons.append(f"corticosteroids {state.steroids}: not {category}")
        category = "PR" if category == "CR" and state.steroids in ("decreased", "stable") else "SD"
    if state.clinical_status is None:
        pending.append("clinical status")
    if category in ("CR", "PR") and state.steroids is None:
        pending.append("steroids")
    if category != "CR" and state.non_target_progression is None:
        pending.append("non-target progression")
    return category, pending


def assess(criterion: Criterion, trajectory: Trajectory, clinical: dict | None = None) -> dict:
    """The criterion applied to every study after the baseline; a JSON-ready dict."""
    clinical = clinical or {}
    targets, non_targets = choose_targets(criterion, trajectory.sizes[0])
    sums = [sum(trajectory.burden(i, k, criterion.measure) for i in targets) for k in range(len(trajectory.dates))]
    by_study = [{"date": trajectory.dates[0].isoformat(), "category": "baseline",
                 f"sum_{criterion.unit}": round(sums[0], 3)}]
    assessments = []
    for study in range(1, len(trajectory.dates)):
        imaging, unequivocal, equivocal, reasons = _imaging_category(criterion, trajectory, study, targets, sums)
        state = clinical.get(trajectory.dates[study], ClinicalState())
        category, pending = _with_clinical(imaging, state, reasons)
        if equivocal:
            reasons.append(f"equivocal new lesion {', '.join(map(str, equivocal))} (under the measurable size, "
                           "seen once): PD dated to this study if the next study confirms it")
        assessment = Assessment(category=category, imaging_category=imaging, pending=tuple(pending),
                                target_sum=sums[study], baseline_sum=sums[0], nadir_sum=min(sums[:study]),
                                new_lesions=tuple(unequivocal), equivocal_new_lesions=tuple(equivocal),
                                reasons=tuple(reasons))
        assessments.append(assessment)
        by_study.append({"date": trajectory.dates[study].isoformat(), **assessment.to_json(criterion.unit),
                         "clinical": state.to_json()})
    latest = assessments[-1] if assessments else None
    return {"criterion": criterion.name, "source": criterion.source, "measure": criterion.measure_name,
            "unit": criterion.unit, "targets": targets, "non_targets": non_targets,
            "category": latest.category if latest else None, "display": latest.display if latest else None,
            "pending": list(latest.pending) if latest else [], "by_study": by_study}
