"""Which series of a study is which sequence: the panel's name rules on SeriesDescription /
ProtocolName, overridden per sequence, refusing ambiguity with the candidates named."""

import pytest

from BrainTumorAILib.dicom.selection import choose_series, series_override
from BrainTumorAILib.errors import InputError

WANTED, REQUIRED = ("t1ce", "t2", "flair", "t1"), ("t1ce", "t2")


def series(uid, description="", protocol="", modality="MR"):
    return {"uid": uid, "description": description, "protocol": protocol, "modality": modality, "images": 10}


STUDY = [series("1", "AX T1 POST GD"), series("2", "", "t2_tse_tra"), series("3", "T2 FLAIR"),
         series("4", "T1 native"), series("5", "T2 SEG", modality="SEG"), series("6", "localizer")]


def test_series_are_chosen_by_description_then_protocol_and_only_among_images():
    assert choose_series("S", STUDY, {}, WANTED, REQUIRED) == {"t1ce": "1", "t2": "2", "flair": "3", "t1": "4"}


def test_an_override_wins_and_its_series_is_not_chosen_again():
    chosen = choose_series("S", STUDY, {"t2": "3"}, WANTED, REQUIRED)
    assert chosen["t2"] == "3" and "flair" not in chosen  # the FLAIR series now serves as T2


def test_an_optional_sequence_may_be_absent():
    assert choose_series("S", STUDY[:2], {}, WANTED, REQUIRED) == {"t1ce": "1", "t2": "2"}


@pytest.mark.parametrize("study, overrides, message", [
    (STUDY[:1], {}, r"t2: study S has no series named like t2 \(its series: 1 \(AX T1 POST GD\)\); "
                    r"name one with --t2 series:UID"),
    (STUDY + [series("7", "T1+C 3D")], {}, r"t1ce: study S has 2 series named like t1ce: 1 \(AX T1 POST GD\); "
                                           r"7 \(T1\+C 3D\); pick one with --t1ce series:UID"),
    (STUDY, {"t2": "99"}, r"t2: series 99 is not in study S"),
])
def test_missing_ambiguous_or_unknown_series_are_refused_naming_them(study, overrides, message):
    with pytest.raises(InputError, match=message):
        choose_series("S", study, overrides, WANTED, REQUIRED)


def test_series_override_syntax():
    assert series_override("series:1.2.3") == "1.2.3"
    assert series_override("/data/t2") is None and series_override(None) is None
