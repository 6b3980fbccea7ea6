"""Patient-level stratified folds: no patient in two folds, balanced labels, seeded."""

from collections import Counter

import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.training import Case, check_patients_disjoint, patient_folds, validation_split


def _cohort(n_patients=40):
    """Patients with 1-4 scans each; every third patient is a metastasis."""
    return [Case(case_id=f"P{p:03d}_{s}", patient_id=f"P{p:03d}", label="metastasis" if p % 3 == 0 else "GBM")
            for p in range(n_patients) for s in range(1 + p % 4)]


def test_no_patient_straddles_folds_and_every_case_is_held_out_once():
    cases = _cohort()
    folds = patient_folds(cases, 5, seed=7)
    assert len(folds) == 5
    assert sorted(c.case_id for fold in folds for c in fold) == sorted(c.case_id for c in cases)
    owners = {}
    for index, fold in enumerate(folds):
        for case in fold:
            assert owners.setdefault(case.patient_id, index) == index


def test_folds_are_stratified_by_label():
    cases = _cohort()
    overall = Counter(c.label for c in cases)
    share = overall["metastasis"] / len(cases)
    for fold in patient_folds(cases, 5, seed=7):
        fold_share = Counter(c.label for c in fold)["metastasis"] / len(fold)
        assert abs(fold_share - share) < 0.15


def test_folds_are_deterministic_with_the_seed():
    cases = _cohort()
    ids = lambda folds: [[c.case_id for c in fold] for fold in folds]  # noqa: E731
    assert ids(patient_folds(cases, 5, seed=3)) == ids(patient_folds(cases, 5, seed=3))
    assert ids(patient_folds(cases, 5, seed=3)) != ids(patient_folds(cases, 5, seed=4))


def test_unlabelled_cases_still_split_by_patient():
    cases = [Case(case_id=f"c{i}", patient_id=f"p{i // 2}", label=None) for i in range(12)]
    folds = patient_folds(cases, 3, seed=0)
    check_patients_disjoint(folds)
    assert sum(len(f) for f in folds) == 12


def test_validation_split_keeps_patients_apart():
    cases = _cohort()
    train, val = validation_split(cases, 0.2, seed=1)
    assert not {c.patient_id for c in train} & {c.patient_id for c in val}
    assert len(train) + len(val) == len(cases)
    assert 0.1 < len({c.patient_id for c in val}) / 40 < 0.3
    assert {c.label for c in val} == {"GBM", "metastasis"}


def test_too_few_patients_and_straddling_are_refused():
    cases = [Case(case_id=f"c{i}", patient_id="only", label="GBM") for i in range(6)]
    with pytest.raises(InputError, match="1 patient.* too few for folds: at least 5"):
        patient_folds(cases, 5, seed=0)
    with pytest.raises(InputError, match="patient only has cases in folds 0 and 1"):
        check_patients_disjoint([cases[:3], cases[3:]])
