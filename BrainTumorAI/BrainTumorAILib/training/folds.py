"""Patient-level stratified splits: a patient's cases (and so their slices) stay in one fold."""

from __future__ import annotations

from collections import Counter

from sklearn.model_selection import StratifiedGroupKFold

from ..errors import InputError
from .cases import Case

UNLABELLED = "<none>"


def patient_folds(cases: list[Case], n_folds: int, seed: int) -> list[list[Case]]:
    """Split into `n_folds` held-out folds, stratified by label, grouped by patient, seeded."""
    _check_splittable(cases, n_folds, "folds")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = [[cases[i] for i in held_out] for _, held_out in splitter.split(*_xyg(cases))]
    check_patients_disjoint(folds)
    return folds


def validation_split(cases: list[Case], fraction: float, seed: int) -> tuple[list[Case], list[Case]]:
    """Hold out about `fraction` of the patients (stratified) to pick the best epoch."""
    # Few patients: hold out more than `fraction` rather than fail (sklearn needs a class per split).
    largest_class = max(Counter(_xyg(cases)[1]).values())
    n_splits = max(2, min(round(1 / fraction), len({c.patient_id for c in cases}), largest_class))
    _check_splittable(cases, n_splits, "a validation split")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, val_idx = next(splitter.split(*_xyg(cases)))
    train, val = [cases[i] for i in train_idx], [cases[i] for i in val_idx]
    check_patients_disjoint([train, val])
    return train, val


def check_patients_disjoint(groups: list[list[Case]]) -> None:
    """Raise InputError if any patient has cases in more than one group (slice leakage)."""
    owner: dict[str, int] = {}
    for index, group in enumerate(groups):
        for case in group:
            if owner.setdefault(case.patient_id, index) != index:
                raise InputError(f"patient {case.patient_id} has cases in folds {owner[case.patient_id]} and {index}")


def _xyg(cases: list[Case]):
    labels = [case.label if case.label is not None else UNLABELLED for case in cases]
    return [[0]] * len(cases), labels, [case.patient_id for case in cases]


def _check_splittable(cases: list[Case], n_splits: int, purpose: str) -> None:
    n_patients = len({case.patient_id for case in cases})
    if n_patients < n_splits:
        raise InputError(f"{n_patients} patient(s) are too few for {purpose}: at least {n_splits} needed")
    if max(Counter(_xyg(cases)[1]).values()) < n_splits:
        raise InputError(f"too few cases per label for {purpose}: some label needs at least {n_splits} cases")
