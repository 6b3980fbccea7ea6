"""Synthetic follow-ups with known truth, measured from their truth masks through the true poses:
every truth lesion >= 5 mm keeps its id, diameters within one voxel (and 1 mm where the voxel is
finer), and every criterion's category equals the one the truth gives."""

import json
from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.followup.pipeline import track_lesions
from BrainTumorAILib.followup.rano2 import RANO2, RANO2_VOLUMETRIC
from BrainTumorAILib.followup.rano_bm import RANO_BM, RANO_BM_VOLUMETRIC
from BrainTumorAILib.followup.response import assess
from BrainTumorAILib.followup.trajectory import Trajectory
from BrainTumorAILib.synthetic.followup import Change, StudyPlan, make_followup, truth_trajectory

CRITERIA = (RANO_BM, RANO_BM_VOLUMETRIC, RANO2, RANO2_VOLUMETRIC)
SCENARIOS = {
    # ten metastases; the five largest halve, then regrow to 80 % (PR, then PD from the nadir); 10 degrees
    "response-then-progression": dict(kind="metastases", seed=11, voxel_mm=1.5, lesion_count=10, plans=[
        StudyPlan(changes={i: Change(0.5) for i in range(1, 6)}, rotation_deg=10.0),
        StudyPlan(changes={i: Change(0.8) for i in range(1, 6)}, rotation_deg=6.0)]),
    # the largest lesion splits (smaller), a 6 mm lesion appears and is still there at the next study
    "split-and-small-new-lesion": dict(kind="metastases", seed=4, voxel_mm=2.0, lesion_count=5, plans=[
        StudyPlan(changes={1: Change(0.45, split=True)}, new_lesions=(6.0,), rotation_deg=8.0),
        StudyPlan(rotation_deg=3.0)]),
    # a solitary metastasis disappears
    "complete-response": dict(kind="metastasis", seed=2, voxel_mm=2.0, plans=[
        StudyPlan(changes={1: Change(0.0)}, rotation_deg=9.0)]),
}


class Measured:
    """A synthetic follow-up's truth and what `track_lesions` makes of its truth masks."""

    def __init__(self, folders):
        self.truth = truth_trajectory(folders)
        truths = [json.loads((folder / "truth.json").read_text()) for folder in folders]
        poses = [np.asarray(t["world_to_sequence"]["t1ce"]) for t in truths]
        self.labels = [sitk.ReadImage(str(folder / "truth" / "lesions_t1ce.nii.gz")) for folder in folders]
        self.voxel_mm = [max(image.GetSpacing()) for image in self.labels]
        self.rotations = [t["followup"]["rotation_from_baseline_deg"] for t in truths]
        to_study = [pose @ np.linalg.inv(poses[0]) for pose in poses]
        self.measured, _ = track_lesions(self.truth.dates, self.labels, self.labels[0], to_study)

    def measured_track(self, truth_id: int, study: int):
        """The measured lesion holding the truth lesion's voxels at a study."""
        label = self.truth.track(truth_id).labels[study]
        return next(t for t in self.measured.tracks if t.labels.get(study) == label)


@pytest.fixture(scope="module", params=list(SCENARIOS))
def followup(request, tmp_path_factory):
    spec = dict(SCENARIOS[request.param])
    folders = make_followup(tmp_path_factory.mktemp(request.param), spec.pop("kind"), spec.pop("seed"),
                            spec.pop("plans"), sequences=("t1ce",), **spec)
    return request.param, Measured(folders)


def test_every_lesion_of_5_mm_or_more_keeps_its_id(followup):
    name, case = followup
    assert max(case.rotations) <= 10.0 + 1e-6
    assigned = {}  # truth id -> measured id
    for study, sizes in enumerate(case.truth.sizes):
        for truth_id, size in sizes.items():
            if case.truth.track(truth_id).split_from is not None or size.longest_diameter_mm < 5.0:
                continue
            measured = case.measured_track(truth_id, study)
            assert assigned.setdefault(truth_id, measured.id) == measured.id, (name, truth_id, study)
            if case.truth.track(truth_id).first_study == 0:
                assert measured.id == truth_id  # baseline ids are the baseline labels
            else:
                assert measured.status(case.truth.track(truth_id).first_study) == "new"
    assert len(set(assigned.values())) == len(assigned)


def test_split_fragments_are_recorded_not_new(followup):
    name, case = followup
    fragments = [t for t in case.truth.tracks if t.split_from is not None]
    if not fragments:
        pytest.skip(f"{name} has no split")
    for fragment in fragments:
        study = fragment.first_study
        pieces = [case.measured_track(fragment.id, study), case.measured_track(fragment.split_from, study)]
        parent = next(t for t in pieces if t.split_from is None)
        child = next(t for t in pieces if t.split_from is not None)
        assert parent.id == fragment.split_from and child.split_from == parent.id
        assert child.status(study) == "split"


def test_diameters_within_one_voxel_and_1_mm_when_finer(followup):
    name, case = followup
    errors = []
    for study, sizes in enumerate(case.truth.sizes):
        for truth_id, truth in sizes.items():
            if truth.longest_diameter_mm < 5.0:
                continue
            measured = case.measured.sizes[study][case.measured_track(truth_id, study).id]
            tolerance = max(1.0, case.voxel_mm[study])
            for key in ("longest_diameter_mm", "perpendicular_diameter_mm"):
                error = abs(getattr(measured, key) - getattr(truth, key))
                errors.append(error)
                assert error <= tolerance, (name, study, truth_id, key, getattr(truth, key), getattr(measured, key))
    assert np.median(errors) <= 1.0


def test_every_category_equals_the_truth(followup):
    name, case = followup
    for criterion in CRITERIA:
        truth = assess(criterion, case.truth)
        measured = assess(criterion, case.measured)
        assert [s["category"] for s in measured["by_study"]] == [s["category"] for s in truth["by_study"]], \
            (name, criterion.name)
        # the targets too, but for lesions tied with the smallest target (within 10 %) either may be chosen
        baseline = case.truth.sizes[0]
        smallest = min((criterion.measure(baseline[i]) for i in truth["targets"]), default=0.0)
        for lesion_id in set(measured["targets"]) ^ set(truth["targets"]):
            assert abs(criterion.measure(baseline[lesion_id]) - smallest) <= 0.1 * smallest, (name, criterion.name)


def test_the_scenarios_reach_the_categories_they_were_built_for(followup):
    name, case = followup
    rano_bm = [s["category"] for s in assess(RANO_BM, case.measured)["by_study"][1:]]
    rano2 = [s["category"] for s in assess(RANO2, case.measured)["by_study"][1:]]
    expected = {"response-then-progression": (["PR", "PD"], ["PR", "PD"]),
                "split-and-small-new-lesion": (["PD", "PD"], None),  # the 6 mm lesion, confirmed at the next study
                "complete-response": (["CR"], ["CR"])}[name]
    assert rano_bm == expected[0]
    if expected[1] is not None:
        assert rano2 == expected[1]
    if name == "split-and-small-new-lesion":
        first_two = assess(RANO_BM, first_studies(case, 2))["by_study"][1]
        assert first_two["category"] != "PD" and first_two["equivocal_new_lesions"]


def first_studies(case, studies: int):
    """The measured trajectory of the first `studies` studies only (as if the later ones had not been made)."""
    measured = case.measured
    tracks = [replace(t, labels={k: v for k, v in t.labels.items() if k < studies},
                      merged_into={k: v for k, v in t.merged_into.items() if k < studies})
              for t in measured.tracks if t.first_study < studies]
    return Trajectory(dates=measured.dates[:studies], sizes=measured.sizes[:studies], tracks=tracks)
