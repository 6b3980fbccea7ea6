"""Measure the input quality checks (BrainTumorAILib.quality) on synthetic cases; writes JSON.

Good cases: generator heads of every kind (seeds from --seed). Mismatches made from them:
another patient's T2, a 32 mm cube of noise as the T2, the T2 or the FLAIR given as the T1CE,
and the whole head on a 10 mm grid. Reports the false-warning rate on good cases (any check
not "ok") and, per mismatch, how often the check meant for it flagged it.

    PYTHONPATH=BrainTumorAI python Utilities/measure_quality.py --good 50 --bad 3 --voxel-mm 2 --out quality.json

The generator's physical sizes stay the same at every --voxel-mm but its slices thicken with it
(2D sequences have 3-5 voxel-mm slices), so the resolution thresholds are scaled by --voxel-mm
for the good cases; the 10 mm mismatch is judged with the defaults.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from BrainTumorAILib.catalog import SEQUENCES, task_specs
from BrainTumorAILib.image import read_image
from BrainTumorAILib.models import ModelRegistry
from BrainTumorAILib.preprocessing import PreprocessOptions, Preprocessor
from BrainTumorAILib.preprocessing.grid import isotropic_grid
from BrainTumorAILib.quality import assess_quality, default_thresholds, worst
from BrainTumorAILib.synthetic import KINDS, make_case



def task_inputs(registry: ModelRegistry, images: dict) -> dict:
    inputs = {}
    for name, info in task_specs().items():
        sets = registry.model_sets(name)
        entry, card = (sets[-1].entry, sets[-1].card()) if sets else ({}, {})
        used = [s for s in dict.fromkeys([*info.sequences, *entry.get("inputs", [])]) if s in images]
        inputs[name] = (used, card.get("input_statistics"))
    return inputs


def scaled_thresholds(voxel_mm: float) -> dict:
    thresholds = copy.deepcopy(default_thresholds())
    for needs in thresholds["resolution_mm"].values():
        for limits in needs.values():
            for kind in limits:
                limits[kind] *= voxel_mm
    return thresholds


def noise_cube(reference: sitk.Image, side_mm: float = 32.0, seed: int = 0) -> sitk.Image:
    centre = reference.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in reference.GetSize()])
    n = int(side_mm)
    cube = sitk.GetImageFromArray(np.random.default_rng(seed).uniform(0, 1000, (n, n, n)).astype(np.float32))
    cube.SetOrigin(tuple(np.array(centre) - side_mm / 2))
    return cube


def on_grid(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """The image block-averaged onto an isotropic `spacing_mm` grid (what a 10 mm scan would hold)."""
    smoothed = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), spacing_mm / 2.5)
    return sitk.Resample(smoothed, isotropic_grid(image, spacing_mm), sitk.Transform(), sitk.sitkLinear)


def summary_of(quality: dict) -> dict:
    return {"status": quality["status"],
            "sequences": {name: {check: (r["status"], r["value"]) for check, r in entry["checks"].items()}
                          for name, entry in quality["sequences"].items()},
            "tasks": {name: {"status": entry["status"],
                             "not_ok": {check: (r["status"], r["value"]) for check, r in entry["checks"].items()
                                        if r["status"] != "ok"}}
                      for name, entry in quality["tasks"].items()}}


def assess(images: dict, registry, thresholds, good: Preprocessor | None = None) -> tuple[dict, float, Preprocessor]:
    start = time.perf_counter()
    preprocessor = Preprocessor(images, PreprocessOptions(reference="t1ce"))
    if good is not None:
        reuse_unchanged(good, preprocessor)
    quality = assess_quality(preprocessor, task_inputs(registry, images), thresholds)
    return quality, time.perf_counter() - start, preprocessor


def reuse_unchanged(good: Preprocessor, mismatch: Preprocessor) -> None:
    """Measurement only: give the mismatch the good case's N4 results, registrations and brain
    mask wherever its inputs are the very same images (what a run would compute again, identically)."""
    same = {name for name in mismatch.images if mismatch.images[name] is good.images.get(name)}
    mismatch._corrected.update({name: good._corrected[name] for name in same if name in good._corrected})
    if mismatch.hub == good.hub and mismatch.hub in same:
        mismatch._from_hub.update({name: good._from_hub[name] for name in same if name in good._from_hub})
    if mismatch.brain_source == good.brain_source and good.brain_source in same:
        mismatch._native_brain = good._native_brain


# mismatch -> (how to make it from a good case and another one, what must flag it)
def _flagged_sequence(sequence: str, checks: tuple[str, ...]):
    return lambda q: any(q["sequences"][sequence]["checks"][c]["status"] != "ok"
                         for c in checks if c in q["sequences"][sequence]["checks"])


def _task_unreliable(task: str):
    return lambda q: q["tasks"][task]["status"] in ("unreliable", "failed")


MISMATCHES = {
    "another patient's t2": (lambda imgs, other: {**imgs, "t2": other["t2"]},
                             _flagged_sequence("t2", ("coregistration", "head_mask_agreement"))),
    "32 mm noise cube as t2": (lambda imgs, other: {**imgs, "t2": noise_cube(imgs["t1ce"])},
                               _task_unreliable("gbm-met")),
    "t2 given as t1ce": (lambda imgs, other: {**imgs, "t1ce": imgs["t2"]}, _flagged_sequence("t1ce", ("contrast",))),
    "flair given as t1ce": (lambda imgs, other: {**imgs, "t1ce": imgs["flair"]},
                            _flagged_sequence("t1ce", ("contrast",))),
    "head on a 10 mm grid": (lambda imgs, other: {name: on_grid(image, 10.0) for name, image in imgs.items()},
                             lambda q: all(_task_unreliable(task)(q) for task in q["tasks"])),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--good", type=int, default=50, help="good cases")
    parser.add_argument("--bad", type=int, default=3, help="the first this many good cases also get every mismatch")
    parser.add_argument("--voxel-mm", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=5000)
    parser.add_argument("--start", type=int, default=0, help="first case index (to split the work)")
    parser.add_argument("--out", type=Path, required=True, help="JSON, rewritten after every case")
    parser.add_argument("--merge", type=Path, nargs="+",
                        help="instead of measuring: merge these outputs (e.g. of parallel --start runs) into --out, "
                             "out-of-distribution checks re-graded with the current, looser, thresholds")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    registry = ModelRegistry.load()
    good_thresholds = scaled_thresholds(args.voxel_mm)
    report = {"voxel_mm": args.voxel_mm, "thresholds_good": good_thresholds, "good": [],
              "mismatches": {name: {"cases": []} for name in MISMATCHES}}
    with tempfile.TemporaryDirectory() as work:
        def case_images(index: int):
            kind = KINDS[index % len(KINDS)]
            folder = make_case(work, kind, args.seed + index, voxel_mm=args.voxel_mm)
            return {name: read_image(folder / f"{name}.nii.gz", name) for name in SEQUENCES}, f"{kind}-{args.seed + index}"

        for index in range(args.start, args.start + args.good):
            images, name = case_images(index)
            quality, seconds, preprocessor = assess(images, registry, good_thresholds)
            report["good"].append({"case": name, "seconds": round(seconds, 1), **summary_of(quality)})
            print(name, quality["status"], round(seconds), "s", flush=True)
            if index - args.start < args.bad:
                other, _ = case_images(index + 10_000)
                for mismatch, (make, flagged) in MISMATCHES.items():
                    thresholds = default_thresholds() if mismatch == "head on a 10 mm grid" else good_thresholds
                    quality, seconds, _ = assess(make(images, other), registry, thresholds, good=preprocessor)
                    report["mismatches"][mismatch]["cases"].append(
                        {"case": name, "flagged": bool(flagged(quality)), **summary_of(quality)})
                    print(" ", mismatch, bool(flagged(quality)), flush=True)
            summarise(report)
            args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))


def merge(paths: list[Path], out: Path) -> None:
    """One report from several; `_intensities` records re-graded with default_thresholds() (valid only
    when these are looser than the measured ones: only not-ok records carry their values)."""
    parts = [json.loads(path.read_text()) for path in paths]
    report = {**parts[0], "good": [case for part in parts for case in part["good"]],
              "mismatches": {name: {"cases": [case for part in parts for case in part["mismatches"][name]["cases"]]}
                             for name in MISMATCHES},
              "regraded_input_statistics": default_thresholds()["input_statistics"]}
    for case in report["good"] + [case for entry in report["mismatches"].values() for case in entry["cases"]]:
        regrade(case)
    summarise(report)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))


def regrade(case: dict) -> None:
    limits = default_thresholds()["input_statistics"]
    for entry in case["tasks"].values():
        for check, (status, value) in list(entry["not_ok"].items()):
            if check.endswith("_intensities"):
                status = "unreliable" if value > limits["unreliable_margin"] else (
                    "warning" if value > limits["margin"] else "ok")
                if status == "ok":
                    del entry["not_ok"][check]
                else:
                    entry["not_ok"][check] = [status, value]
        entry["status"] = worst(status for status, _ in entry["not_ok"].values())
    case["status"] = worst([entry["status"] for entry in case["tasks"].values()] +
                           [status for checks in case["sequences"].values() for status, _ in checks.values()])


def summarise(report: dict) -> None:
    flagged_good = [case["case"] for case in report["good"] if case["status"] != "ok"]
    causes = {}
    for case in report["good"]:
        found = {check for entry in case["tasks"].values() for check in entry["not_ok"]}
        found |= {check for checks in case["sequences"].values() for check, (status, _) in checks.items() if status != "ok"}
        for check in found:
            causes.setdefault(check.split("_", 1)[1] if check.startswith(SEQUENCES) else check, []).append(case["case"])
    report["summary"] = {
        "good_cases": len(report["good"]),
        "false_warning_rate": len(flagged_good) / max(len(report["good"]), 1),
        "good_cases_flagged": flagged_good,
        "good_cases_flagged_by_check": {check: sorted(set(cases)) for check, cases in sorted(causes.items())},
        "mismatch_flag_rates": {name: {"flagged": sum(c["flagged"] for c in entry["cases"]), "cases": len(entry["cases"])}
                                for name, entry in report["mismatches"].items()},
    }


if __name__ == "__main__":
    main()
