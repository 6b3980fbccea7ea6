"""Measure the follow-up against synthetic truth and write JSON (the README's follow-up figures).

For each seed: a patient with `--lesions` metastases scanned three times, each later study in a
head pose `--rotation` degrees from the baseline (first: lesions 1-5, the dominant one and four
others, shrink to half; second: they regrow to 80 %, lesion 1 splits, a 6 mm lesion appears). The truth
masks go through the real registration (`followup.registration.align`), measurement and matching;
reported: registration error and residual, the share of truth lesions >= 5 mm that keep the right
id, diameter errors, and whether each criterion's category equals the truth's.

    .venv/bin/python Utilities/followup_accuracy.py --out followup_accuracy.json --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from BrainTumorAILib.followup.pipeline import track_lesions
from BrainTumorAILib.followup.rano2 import RANO2, RANO2_VOLUMETRIC
from BrainTumorAILib.followup.rano_bm import RANO_BM, RANO_BM_VOLUMETRIC
from BrainTumorAILib.followup.registration import BASELINE, align
from BrainTumorAILib.followup.response import assess
from BrainTumorAILib.preprocessing.transforms import registration_error_mm
from BrainTumorAILib.synthetic.followup import Change, StudyPlan, make_followup, truth_trajectory

CRITERIA = (RANO_BM, RANO_BM_VOLUMETRIC, RANO2, RANO2_VOLUMETRIC)


def plans(rotation: float) -> list[StudyPlan]:
    return [StudyPlan(changes={i: Change(0.5) for i in range(1, 6)}, rotation_deg=rotation),
            StudyPlan(changes={1: Change(0.8, split=True), **{i: Change(0.8) for i in range(2, 6)}},
                      new_lesions=(6.0,), rotation_deg=rotation)]


def evaluate(folders: list[Path]) -> dict:
    truth = truth_trajectory(folders)
    truths = [json.loads((f / "truth.json").read_text()) for f in folders]
    images = [sitk.ReadImage(str(f / "t1ce.nii.gz")) for f in folders]
    labels = [sitk.ReadImage(str(f / "truth" / "lesions_t1ce.nii.gz")) for f in folders]
    poses = [np.asarray(t["world_to_sequence"]["t1ce"]) for t in truths]
    start = time.process_time()
    alignments = [BASELINE] + [align(images[0], image) for image in images[1:]]
    registration_cpu = time.process_time() - start
    grid = np.argwhere(sitk.GetArrayFromImage(labels[0]) >= 0)[::997][:, ::-1]  # over the field of view
    points = np.array([labels[0].TransformIndexToPhysicalPoint([int(v) for v in index]) for index in grid])
    errors = [registration_error_mm(a.matrix, pose @ np.linalg.inv(poses[0]), points)
              for a, pose in zip(alignments[1:], poses[1:])]
    measured, _ = track_lesions(truth.dates, labels, images[0], [a.matrix for a in alignments])
    matched = total = 0
    diameter_errors = []
    assigned = {}
    unmatched = []
    for study, sizes in enumerate(truth.sizes):
        for truth_id, size in sizes.items():
            if size.longest_diameter_mm < 5.0:
                continue
            track = next((t for t in measured.tracks if t.labels.get(study) == truth.track(truth_id).labels[study]), None)
            total += 1
            if track is None:
                unmatched.append((study, truth_id, "lost"))
                continue
            fragment = truth.track(truth_id).split_from is not None
            expected = truth_id if truth.track(truth_id).first_study == 0 and not fragment else None
            # which of two fragments keeps the id is the matcher's choice: either is right
            parent = truth.track(truth_id).split_from if fragment else truth_id
            split = any(t.split_from == parent and t.present(study) for t in truth.tracks)
            if split:
                right = track.id == parent or track.split_from == parent
            else:
                right = assigned.setdefault(truth_id, track.id) == track.id and expected in (None, track.id)
            matched += right
            if not right:
                unmatched.append((study, truth_id, track.id))
            other = measured.sizes[study][track.id]
            diameter_errors += [abs(other.longest_diameter_mm - size.longest_diameter_mm),
                                abs(other.perpendicular_diameter_mm - size.perpendicular_diameter_mm)]
    agreement = {c.name: [s["category"] for s in assess(c, measured)["by_study"]] ==
                 [s["category"] for s in assess(c, truth)["by_study"]] for c in CRITERIA}
    return {"rotation_deg": [t["followup"]["rotation_from_baseline_deg"] for t in truths[1:]],
            "registration_error_max_mm": [round(e, 3) for e in errors],
            "registration_residual_mm": [round(a.residual_mm, 3) for a in alignments[1:]],
            "registration_cpu_s": round(registration_cpu, 2),
            "lesions_5mm_matched": f"{matched}/{total}", "unmatched (study, truth id, measured id)": unmatched,
            "diameter_error_mm": {"median": round(float(np.median(diameter_errors)), 3),
                                  "max": round(float(np.max(diameter_errors)), 3),
                                  "within_1mm": round(float(np.mean(np.array(diameter_errors) <= 1.0)), 3)},
            "categories_equal_truth": agreement,
            "categories": {c.name: [s["category"] for s in assess(c, truth)["by_study"][1:]] for c in CRITERIA}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--lesions", type=int, default=10)
    parser.add_argument("--rotation", type=float, default=10.0)
    parser.add_argument("--voxel-mm", type=float, default=1.0)
    args = parser.parse_args()
    report = {"lesions": args.lesions, "voxel_mm": args.voxel_mm, "cases": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in (int(s) for s in args.seeds.split(",")):
            folders = make_followup(scratch, "metastases", seed, plans(args.rotation), voxel_mm=args.voxel_mm,
                                    sequences=("t1ce",), lesion_count=args.lesions)
            report["cases"][seed] = evaluate(folders)
            print(seed, json.dumps(report["cases"][seed]), flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
