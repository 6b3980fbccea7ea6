"""Volume names -> sequences, as the panel's selectors and the scene's training cases use them."""

import pytest

from BrainTumorAISlicer.sequence_names import case_name, sequence_of_name


@pytest.mark.parametrize("name, sequence", [
    ("BraTS-GLI-00001-000-t1c", "t1ce"), ("BraTS-GLI-00001-000-t2w", "t2"), ("BraTS-GLI-00001-000-t2f", "flair"),
    ("BraTS-GLI-00001-000-t1n", "t1"), ("BraTS2021_00012_t1ce", "t1ce"), ("BraTS2021_00012_flair", "flair"),
    ("BraTS2021_00012_t2", "t2"), ("BraTS2021_00012_t1", "t1"), ("T1+C", "t1ce"), ("T1 + Gd", "t1ce"),
    ("3: AX T1 POST contrast", "t1ce"), ("T1_Gd", "t1ce"), ("sub-01_ce-gd_T1w", "t1ce"), ("sub-01_T1w", "t1"),
    ("T2 FLAIR", "flair"), ("t2-flair", "flair"), ("AX T2W TSE", "t2"), ("t1ce", "t1ce"), ("T2", "t2"),
])
def test_known_names_announce_their_sequence(name, sequence):
    assert sequence_of_name(name) == sequence


@pytest.mark.parametrize("name", ["MRHead", "WarmTint1", "t10_scan", "ht2", "T2*", "dwi", "seg", "gbm-met activation map"])
def test_other_names_announce_no_sequence(name):
    assert sequence_of_name(name) is None


@pytest.mark.parametrize("name, case", [
    ("BraTS-GLI-00001-000-t1c", "BraTS-GLI-00001-000"), ("case07_T2", "case07"), ("T2 case07", "case07"),
    ("pre_t1ce_op", "pre_op"), ("sub-01_ce-gd_T1w", "sub-01"), ("MRHead", None),
])
def test_case_name_is_the_name_without_its_sequence(name, case):
    assert case_name(name) == case
