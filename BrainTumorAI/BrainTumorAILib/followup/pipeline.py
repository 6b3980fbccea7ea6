"""`braintumorai followup`: studies in date order -> registered to the baseline -> lesions measured
and matched -> RANO-BM and RANO 2.0 (each with its volumetric variant) -> followup.json's content."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from .. import __version__
from ..errors import InputError
from ..progress import NullProgress
from .clinical import ClinicalState
from .matching import match_lesions
from .measurement import LesionSize, measure_labels
from .rano2 import RANO2, RANO2_VOLUMETRIC
from .rano_bm import RANO_BM, RANO_BM_VOLUMETRIC
from .registration import BASELINE, Alignment, align, map_labels
from .response import assess
from .studies import Study, run_task_for
from .trajectory import Trajectory


@dataclass
class FollowupResult:
    """followup.json's content and what the writer and the report draw from."""

    result: dict
    trajectory: Trajectory
    studies: list[Study]
    alignments: list[Alignment]
    tracked_labels: list[sitk.Image]  # per study: stable lesion ids on the baseline T1CE grid
    runs: dict = field(default_factory=dict)  # study index -> RunResult of studies run here


def run_pending(studies: list[Study], task: str | None, device: str, progress, registry=None) -> dict:
    """Run the segmentation task on studies given as inputs; their labels are filled in."""
    from ..runner import run_case
    from ..tasks.metastases.lesions import label_components

    runs = {}
    pending = [k for k, study in enumerate(studies) if study.labels is None]
    for done, k in enumerate(pending):
        study = studies[k]
        chosen = run_task_for(study, task)
        part = progress.child(done / max(len(pending), 1), (done + 1) / max(len(pending), 1))
        run = run_case(study.inputs, None, tasks=chosen, device=device, progress=part, registry=registry,
                       case_id=f"{study.folder.name} {study.date.isoformat()}")
        run.result["input_files"] = study.input_files
        study.labels = label_components(run.images[f"{chosen}_seg.nii.gz"])
        study.source = f"run here ({chosen})"
        runs[k] = run
    return runs


def _tracked_image(mapped: np.ndarray, baseline: sitk.Image, ids: dict[int, int]) -> sitk.Image:
    """A study's labels mapped onto the baseline grid, renumbered to the stable lesion ids (uint16)."""
    lookup = np.zeros(int(mapped.max()) + 1, np.uint16)
    for label, lesion_id in ids.items():
        if label < lookup.size:
            lookup[label] = lesion_id
    image = sitk.GetImageFromArray(lookup[mapped])
    image.CopyInformation(baseline)
    return image


def track_lesions(dates: list, labels: list[sitk.Image], baseline: sitk.Image,
                  to_study: list[np.ndarray]) -> tuple[Trajectory, list[sitk.Image]]:
    """Lesions measured (axial plane of the baseline's space) and matched over the studies, and each
    study's labels on the baseline grid with the stable ids. `to_study[k]` maps baseline points
    to study k's (the identity for the baseline)."""
    local_sizes = [measure_labels(image, matrix) for image, matrix in zip(labels, to_study)]
    mapped = [sitk.GetArrayFromImage(map_labels(image, baseline, matrix)) for image, matrix in zip(labels, to_study)]
    tracks = match_lesions(mapped, [{i: size.centroid_ras for i, size in sizes.items()} for sizes in local_sizes])
    sizes = [{t.id: local_sizes[k][t.labels[k]] for t in tracks if t.present(k)} for k in range(len(labels))]
    tracked = [_tracked_image(mapped[k], baseline, {t.labels[k]: t.id for t in tracks if t.present(k)})
               for k in range(len(labels))]
    return Trajectory(dates=list(dates), sizes=sizes, tracks=tracks), tracked


def _lesion_json(size: LesionSize | None, study: int, track) -> dict:
    row = {"id": track.id, "status": track.status(study), "split_from": track.split_from,
           "merged_into": track.merged_into.get(study),
           "volume_mm3": None, "longest_diameter_mm": None, "perpendicular_diameter_mm": None, "product_mm2": None,
           "centroid_ras": None, "axial_s_ras": None}
    if size is not None:
        row.update({"volume_mm3": round(size.volume_mm3, 3), "longest_diameter_mm": round(size.longest_diameter_mm, 2),
                    "perpendicular_diameter_mm": round(size.perpendicular_diameter_mm, 2),
                    "product_mm2": round(size.product_mm2, 2),
                    "centroid_ras": [round(v, 2) for v in size.centroid_ras], "axial_s_ras": round(size.axial_s_ras, 2)})
    return row


def _criterion_pair(main, volumetric, trajectory, clinical) -> dict:
    entry = assess(main, trajectory, clinical)
    entry["volumetric"] = assess(volumetric, trajectory, clinical)
    return entry


def follow_up(studies: list[Study], clinical: dict | None = None, task: str | None = None, device: str = "auto",
              progress=None, registry=None) -> FollowupResult:
    """The whole follow-up of one patient's studies (any order; the earliest is the baseline)."""
    progress = progress or NullProgress()
    clinical = clinical or {}
    studies = sorted(studies, key=lambda s: s.date)
    dates = [s.date for s in studies]
    if len(studies) < 2:
        raise InputError("follow-up needs at least two studies (--study DATE=DIR, twice or more)")
    if len(set(dates)) != len(dates):
        raise InputError(f"two studies share the date {next(d for d in dates if dates.count(d) > 1)}")
    unknown = sorted(set(clinical) - set(dates))
    if unknown:
        raise InputError(f"clinical items given for {unknown[0]}, which is not a study date")
    timings = {}
    start = time.perf_counter()
    runs = run_pending(studies, task, device, progress.child(0.0, 0.6), registry)
    timings["runs"] = round(time.perf_counter() - start, 3)

    start = time.perf_counter()
    baseline = studies[0].t1ce
    alignments = [BASELINE]
    for k, study in enumerate(studies[1:], 1):
        progress.update("registration", 0.6 + 0.3 * k / len(studies), f"study {study.date} onto the baseline")
        alignments.append(align(baseline, study.t1ce))
    timings["registration"] = round(time.perf_counter() - start, 3)

    start = time.perf_counter()
    trajectory, tracked_labels = track_lesions(dates, [s.labels for s in studies], baseline,
                                               [a.matrix for a in alignments])
    tracks, sizes = trajectory.tracks, trajectory.sizes
    timings["measurement_matching"] = round(time.perf_counter() - start, 3)

    start = time.perf_counter()
    rano_bm = _criterion_pair(RANO_BM, RANO_BM_VOLUMETRIC, trajectory, clinical)
    rano2 = _criterion_pair(RANO2, RANO2_VOLUMETRIC, trajectory, clinical)
    timings["criteria"] = round(time.perf_counter() - start, 3)

    study_entries = []
    for k, (study, alignment) in enumerate(zip(studies, alignments)):
        lesions = [_lesion_json(sizes[k].get(track.id), k, track) for track in tracks if track.first_study <= k]
        study_entries.append({
            "date": study.date.isoformat(), "folder": str(study.folder), "source": study.source,
            "registration": {"reference": "baseline" if k == 0 else dates[0].isoformat(), **alignment.to_json()},
            "labels_file": f"lesions_{study.date.isoformat()}.nii.gz", "lesions": lesions,
            "clinical": clinical.get(study.date, ClinicalState()).to_json()})
    result = {
        "version": __version__,
        "baseline": dates[0].isoformat(),
        "coordinates": "RAS mm in the baseline T1CE's physical space; matrices 4x4 LPS, baseline to study",
        "studies": study_entries,
        "lesions": [{"id": t.id, "first_seen": dates[t.first_study].isoformat(), "split_from": t.split_from,
                     "new": t.first_study > 0 and t.split_from is None,
                     "target_rano_bm": t.id in rano_bm["targets"], "target_rano2": t.id in rano2["targets"]}
                    for t in tracks],
        "rano_bm": rano_bm,
        "rano2": rano2,
        "timings_s": timings,
    }
    return FollowupResult(result=result, trajectory=trajectory, studies=studies, alignments=alignments,
                          tracked_labels=tracked_labels, runs=runs)
