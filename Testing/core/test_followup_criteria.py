"""RANO-BM and RANO 2.0 on hand-built trajectories: every category, the exact thresholds, new
lesions under the measurable size, fragments, and the reader's clinical items."""

import datetime

import pytest

from BrainTumorAILib.followup.clinical import ClinicalState, load_clinical
from BrainTumorAILib.errors import InputError
from BrainTumorAILib.followup.matching import Track
from BrainTumorAILib.followup.measurement import LesionSize
from BrainTumorAILib.followup.rano2 import RANO2, RANO2_VOLUMETRIC
from BrainTumorAILib.followup.rano_bm import RANO_BM, RANO_BM_VOLUMETRIC
from BrainTumorAILib.followup.response import assess
from BrainTumorAILib.followup.trajectory import Trajectory

DATES = [datetime.date(2026, 1, 5) + datetime.timedelta(days=60 * k) for k in range(4)]
KNOWN = ClinicalState(steroids="none", clinical_status="stable", non_target_progression=False)


def size(longest, perpendicular=None, volume=None):
    perpendicular = longest if perpendicular is None else perpendicular
    volume = longest * perpendicular * perpendicular * 0.5236 if volume is None else volume  # an ellipsoid's
    return LesionSize(volume_mm3=volume, longest_diameter_mm=longest, perpendicular_diameter_mm=perpendicular,
                      centroid_ras=(0.0, 0.0, 0.0), axial_s_ras=0.0)


def trajectory(per_study: list[dict], split_from: dict | None = None) -> Trajectory:
    """Studies as {lesion id: LesionSize}; ids absent from the baseline are new (or fragments)."""
    split_from = split_from or {}
    tracks = {}
    for study, lesions in enumerate(per_study):
        for lesion_id in lesions:
            track = tracks.setdefault(lesion_id, Track(id=lesion_id, first_study=study,
                                                       split_from=split_from.get(lesion_id)))
            track.labels[study] = lesion_id
    return Trajectory(dates=DATES[:len(per_study)], sizes=per_study, tracks=[tracks[i] for i in sorted(tracks)])


def categories(criterion, studies, clinical=None, split_from=None):
    clinical = {date: KNOWN for date in DATES} if clinical is None else clinical
    entry = assess(criterion, trajectory(studies, split_from), clinical)
    return [row["category"] for row in entry["by_study"][1:]], entry


def test_exactly_30_percent_decrease_is_partial_response_and_just_less_is_stable():
    baseline = {1: size(20.0), 2: size(30.0)}
    assert categories(RANO_BM, [baseline, {1: size(14.0), 2: size(21.0)}])[0] == ["PR"]   # 35 mm from 50: -30 %
    assert categories(RANO_BM, [baseline, {1: size(14.0), 2: size(21.1)}])[0] == ["SD"]   # -29.8 %


def test_progression_needs_20_percent_over_nadir_and_5_mm():
    baseline = {1: size(20.0), 2: size(20.0)}
    nadir = {1: size(10.0), 2: size(10.0)}   # 20 mm (PR)
    grown = {1: size(12.0), 2: size(12.5)}   # 24.5 mm: +22.5 % but +4.5 mm from the nadir
    more = {1: size(12.5), 2: size(12.5)}    # 25 mm: +25 % and +5 mm
    assert categories(RANO_BM, [baseline, nadir, grown])[0] == ["PR", "PR"]
    result, entry = categories(RANO_BM, [baseline, nadir, more])
    assert result == ["PR", "PD"]
    assert entry["by_study"][2]["nadir_sum_mm"] == pytest.approx(20.0)
    assert entry["by_study"][2]["change_from_nadir_pct"] == pytest.approx(25.0)


def test_only_measurable_lesions_are_targets_and_at_most_five():
    baseline = {i: size(10.0 + i) for i in range(1, 8)} | {8: size(9.9)}
    entry = categories(RANO_BM, [baseline, baseline])[1]
    assert entry["targets"] == [7, 6, 5, 4, 3]
    assert entry["non_targets"] == [1, 2, 8]
    assert categories(RANO2, [baseline, baseline])[1]["targets"] == [7, 6, 5]


def test_new_measurable_lesion_is_progression():
    baseline = {1: size(20.0)}
    assert categories(RANO_BM, [baseline, {1: size(10.0), 2: size(10.0)}])[0] == ["PD"]


def test_new_lesion_under_10_mm_is_equivocal_until_the_next_study_confirms_it():
    baseline = {1: size(20.0)}
    later = {1: size(20.0), 2: size(6.0)}
    result, entry = categories(RANO_BM, [baseline, later])
    assert result == ["SD"]
    assert entry["by_study"][1]["equivocal_new_lesions"] == [2]
    # seen again at the next study: progression from the study that first showed it
    result, entry = categories(RANO_BM, [baseline, later, later])
    assert result == ["PD", "PD"]
    assert entry["by_study"][1]["new_lesions"] == [2]
    # gone at the next study: never progression
    assert categories(RANO_BM, [baseline, later, baseline])[0] == ["SD", "SD"]


def test_fragments_of_a_split_lesion_add_up_and_are_not_new():
    baseline = {1: size(20.0), 2: size(20.0)}
    split = {1: size(8.0), 3: size(7.0), 2: size(20.0)}  # lesion 1 broke into 1 and 3: 15 mm
    result, entry = categories(RANO_BM, [baseline, split], split_from={3: 1})
    assert result == ["SD"]
    assert entry["by_study"][1]["sum_mm"] == pytest.approx(35.0)
    assert entry["by_study"][1]["new_lesions"] == [] and entry["by_study"][1]["equivocal_new_lesions"] == []
    # without the split record, the 7 mm lesion 3 would be an equivocal new lesion
    assert categories(RANO_BM, [baseline, split])[1]["by_study"][1]["equivocal_new_lesions"] == [3]


def test_complete_response_needs_every_lesion_gone():
    baseline = {1: size(20.0), 2: size(5.0)}
    assert categories(RANO_BM, [baseline, {}])[0] == ["CR"]
    assert categories(RANO_BM, [baseline, {2: size(4.0)}])[0] == ["PR"]  # a non-target remains


def test_no_measurable_disease_is_stable_until_it_resolves_or_progresses():
    baseline = {1: size(6.0)}
    assert categories(RANO_BM, [baseline, {1: size(8.0)}])[0] == ["SD"]
    assert categories(RANO_BM, [baseline, {}])[0] == ["CR"]
    assert categories(RANO_BM, [baseline, {1: size(6.0), 2: size(12.0)}])[0] == ["PD"]


def test_clinical_items_not_given_leave_the_category_pending():
    baseline, smaller = {1: size(20.0)}, {1: size(10.0)}
    entry = assess(RANO_BM, trajectory([baseline, smaller]), {})
    row = entry["by_study"][1]
    assert row["category"] == "PR"
    assert set(row["pending"]) == {"steroids", "clinical status", "non-target progression"}
    assert "pending clinical confirmation" in row["display"]
    # progression by imaging does not wait for the clinic
    grown = assess(RANO_BM, trajectory([baseline, {1: size(30.0)}]), {})["by_study"][1]
    assert grown["category"] == "PD" and grown["pending"] == []


def test_clinical_items_change_the_category():
    baseline, smaller, gone = {1: size(20.0)}, {1: size(10.0)}, {}
    on_more_steroids = {DATES[1]: ClinicalState("increased", "stable", False)}
    assert categories(RANO_BM, [baseline, smaller], on_more_steroids)[0] == ["SD"]
    still_on_steroids = {DATES[1]: ClinicalState("stable", "stable", False)}
    assert categories(RANO_BM, [baseline, gone], still_on_steroids)[0] == ["PR"]
    worse = {DATES[1]: ClinicalState("none", "worse", False)}
    assert categories(RANO_BM, [baseline, smaller], worse)[0] == ["PD"]
    non_target = {DATES[1]: ClinicalState("none", "stable", True)}
    assert categories(RANO_BM, [baseline, smaller], non_target)[0] == ["PD"]


def test_rano2_thresholds_on_bidimensional_products():
    baseline = {1: size(20.0, 20.0)}                      # 400 mm2
    assert categories(RANO2, [baseline, {1: size(20.0, 10.0)}])[0] == ["PR"]     # 200: exactly -50 %
    assert categories(RANO2, [baseline, {1: size(20.0, 10.1)}])[0] == ["SD"]     # -49.5 %
    assert categories(RANO2, [baseline, {1: size(20.0, 25.0)}])[0] == ["PD"]     # +25 %
    assert categories(RANO2, [baseline, {1: size(20.0, 24.9)}])[0] == ["SD"]
    # measurable means both diameters >= 10 mm
    assert categories(RANO2, [{1: size(30.0, 9.0)}, {1: size(30.0, 9.0)}])[1]["targets"] == []


def test_volumetric_thresholds():
    baseline = {1: size(20.0, volume=1000.0)}
    assert categories(RANO2_VOLUMETRIC, [baseline, {1: size(20.0, volume=350.0)}])[0] == ["PR"]  # -65 %
    assert categories(RANO2_VOLUMETRIC, [baseline, {1: size(20.0, volume=360.0)}])[0] == ["SD"]
    assert categories(RANO2_VOLUMETRIC, [baseline, {1: size(20.0, volume=1400.0)}])[0] == ["PD"]  # +40 %
    assert categories(RANO_BM_VOLUMETRIC, [baseline, {1: size(20.0, volume=343.0)}])[0] == ["PR"]  # 0.7^3
    assert categories(RANO_BM_VOLUMETRIC, [baseline, {1: size(20.0, volume=1400.0)}])[0] == ["SD"]  # < 1.2^3
    assert categories(RANO_BM_VOLUMETRIC, [baseline, {1: size(20.0, volume=1728.0)}])[0] == ["PD"]


def test_clinical_file_and_options(tmp_path):
    path = tmp_path / "clinical.json"
    path.write_text('{"2026-03-06": {"steroids": "stable", "non_target_progression": false}}')
    states = load_clinical(path, steroids=["2026-03-06=decreased"], status=["2026-05-05=worse"])
    assert states[datetime.date(2026, 3, 6)] == ClinicalState("decreased", None, False)
    assert states[datetime.date(2026, 5, 5)].clinical_status == "worse"
    path.write_text('{"2026-03-06": {"steroids": "a lot"}}')
    with pytest.raises(InputError, match="steroids"):
        load_clinical(path)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        load_clinical(None, steroids=["March=stable"])
