"""Synthetic follow-ups: one patient's head scanned again after its lesions changed, with known truth.

The head and lesions are those `make_case` draws for (kind, seed). Each later study applies a plan:
per lesion a size factor (0: it resolved) or a split into two fragments, new metastases of
given diameters, and a new head pose (rotation up to `max_rotation_deg` from the baseline's T1CE
pose) and acquisition (field of view, oblique prescription, noise, bias). Sizes are relative to
the lesion as first drawn, and every change persists into later studies unless changed again.

The truth of each study (truth.json, key "followup") holds for every lesion its stable id (the
baseline's ids 1..n, new lesions after them; a fragment has its own id and `split_from`), its id
in that study's `truth/lesions_t1ce.nii.gz`, and its volume and axial diameters measured the way
`followup.measurement` does, on the lesion's fine rendering patch, in the baseline T1CE's space.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy.spatial.transform import Rotation

from ..followup.matching import Track
from ..followup.measurement import LesionSize, measure_mask
from ..followup.trajectory import Trajectory
from ..image import copy_geometry, write_image
from ..outputs import staged_output
from ..preprocessing.transforms import rigid_parameters
from .acquisition import acquire, sample_acquisition
from .case import case_id, case_rng, _check
from .contrast import SEQUENCES, tissue_intensities
from .head import make_head
from .kinds import GBM_MET_LABEL_OF_KIND, TUMOUR_TYPE_OF_KIND
from .lesions import MASS_LEVEL, Lesion, render
from .recipes import metastases, metastasis_of_size, sample_lesions, white_matter_lesions
from .template import template_anatomy
from .truth import build_truth, lesion_record, write_truth

MAX_ROTATION_DEG = 10.0
TRUTH_PATCH_MM = 1.0
STUDY_INTERVAL_DAYS = 60
FIRST_DATE = datetime.date(2026, 1, 5)


@dataclass(frozen=True)
class Change:
    """What has happened to one lesion by a study: `scale` multiplies its size as first drawn (0:
    resolved); `split` breaks it into two fragments along its longest axis."""

    scale: float = 1.0
    split: bool = False


@dataclass(frozen=True)
class StudyPlan:
    """One follow-up study: changes by lesion id, diameters (mm) of new metastases, head rotation."""

    changes: dict = field(default_factory=dict)
    new_lesions: tuple = ()
    rotation_deg: float | None = None  # None: random within MAX_ROTATION_DEG


# The demo follow-up: a response at the first follow-up, regrowth from that nadir at the second
# (with a new 12 mm metastasis when the case has metastases).
def demo_plans(kind: str) -> list[StudyPlan]:
    new = (12.0,) if kind in ("metastasis", "metastases") else ()
    return [StudyPlan(changes={1: Change(0.6)}), StudyPlan(changes={1: Change(0.9)}, new_lesions=new)]


@dataclass
class _Tracked:
    lesion: Lesion
    change: Change = Change()
    fragment_id: int | None = None  # the id of the second fragment once split


def _next_id(tracked: dict) -> int:
    """The next free stable id (after every lesion and fragment so far)."""
    return max([0, *tracked, *(t.fragment_id or 0 for t in tracked.values())]) + 1


def _fragments(lesion: Lesion) -> tuple[Lesion, Lesion]:
    """Two smaller ellipsoids along the lesion's longest axis, with a gap between them, inside its extent."""
    longest = int(np.argmax(lesion.semi_axes))
    axis = lesion.rotation[:, longest]
    axes = lesion.semi_axes * 0.85
    axes[longest] = lesion.semi_axes[longest] * 0.35
    offset = 0.6 * lesion.semi_axes[longest] * axis
    return tuple(replace(lesion, centre=lesion.centre + sign * offset, semi_axes=axes.copy(), rim_mm=0.0,
                         enhancement="solid", oedema=None) for sign in (1.0, -1.0))


def _scaled(lesion: Lesion, scale: float) -> Lesion:
    oedema = lesion.oedema and replace(lesion.oedema, reach_mm=lesion.oedema.reach_mm * scale)
    return replace(lesion, semi_axes=lesion.semi_axes * scale, rim_mm=lesion.rim_mm * scale, oedema=oedema)


def _study_pose(rng, baseline_pose: np.ndarray, rotation_deg: float | None, centre: np.ndarray) -> np.ndarray:
    """The baseline T1CE pose followed by a rotation (about the head's centre) and a shift of a few mm."""
    angle = rng.uniform(0.0, MAX_ROTATION_DEG) if rotation_deg is None else float(rotation_deg)
    axis = rng.normal(size=3)
    rotation = Rotation.from_rotvec(axis / np.linalg.norm(axis) * np.radians(angle)).as_matrix()
    shift = rng.normal(size=3)
    shift *= rng.uniform(0.0, 8.0) / np.linalg.norm(shift)
    centre_scanner = baseline_pose[:3, :3] @ centre + baseline_pose[:3, 3]
    delta = np.eye(4)
    delta[:3, :3] = rotation
    delta[:3, 3] = centre_scanner - rotation @ centre_scanner + shift
    return delta @ baseline_pose


def _truth_size(lesion: Lesion, head, world_from_baseline: np.ndarray) -> dict:
    """Size of the lesion's continuous shape: its mass patch rendered at 1 mm or finer (at least four
    patch voxels across its smallest semi-axis), whatever the acquisitions' voxels."""
    patch = sitk.VectorIndexSelectionCast(render(lesion, head, TRUTH_PATCH_MM).mass, 0) >= MASS_LEVEL
    size = measure_mask(patch, world_from_baseline)
    return {"volume_mm3": round(size.volume_mm3, 3), "longest_diameter_mm": round(size.longest_diameter_mm, 3),
            "perpendicular_diameter_mm": round(size.perpendicular_diameter_mm, 3),
            "centroid_ras": [round(v, 3) for v in size.centroid_ras], "axial_s_ras": round(size.axial_s_ras, 3)}


def _write_study(folder: Path, acquired: dict, truth: dict) -> None:
    for sequence, result in acquired.items():
        write_image(result.image, folder / f"{sequence}.nii.gz")
    t1ce = acquired["t1ce"]
    write_image(copy_geometry(t1ce.instances, t1ce.image), folder / "truth" / "lesions_t1ce.nii.gz")
    write_image(copy_geometry(t1ce.seg, t1ce.image), folder / "truth" / "seg_t1ce.nii.gz")
    write_truth(truth, folder / "truth.json")


def make_followup(out_dir, kind: str, seed: int, plans: list[StudyPlan], voxel_mm: float = 1.0,
                  sequences: tuple = SEQUENCES, lesion_count: int | None = None) -> list[Path]:
    """Write the baseline and one study per plan into `out_dir/<case>-followup/study-<k>/`; their folders.

    `lesion_count` fixes the number of metastases (kind "metastases" only); `sequences` chooses
    the acquired sequences (t1ce always). The same arguments give the same files.
    """
    _check(kind, seed, voxel_mm)
    if "t1ce" not in sequences:
        raise ValueError("a follow-up study needs t1ce")
    rng = case_rng(kind, seed)
    template = template_anatomy(float(voxel_mm))
    head = make_head(template, rng)
    tissue = tissue_intensities(rng)
    if lesion_count is not None:
        if kind != "metastases":
            raise ValueError("lesion_count applies to the kind 'metastases' only")
        tumours = metastases(rng, head, lesion_count)
        lesions = tumours + white_matter_lesions(rng, head, tumours)
    else:
        lesions = sample_lesions(kind, head, rng)
    tracked = {i: _Tracked(lesion) for i, lesion in enumerate((l for l in lesions if l.labelled), 1)}
    distractors = [lesion for lesion in lesions if not lesion.labelled]
    name = f"{case_id(kind, seed)}-followup"
    final = Path(out_dir) / name
    rendered_distractors = [render(lesion, head, voxel_mm) for lesion in distractors]
    baseline_pose = None
    folders = []
    with staged_output(final, replace=True) as staging:  # the follow-up folder is complete or absent
        for study, plan in enumerate([StudyPlan()] + list(plans)):
            study_rng = np.random.default_rng([int(seed), 1000 + study])
            for lesion_id, change in plan.changes.items():
                if lesion_id not in tracked:
                    raise ValueError(f"study {study}: no lesion {lesion_id} to change")
                tracked[lesion_id].change = change
            for diameter in plan.new_lesions:
                avoid = [(t.lesion.centre, t.lesion.diameter_mm / 2) for t in tracked.values()]
                tracked[_next_id(tracked)] = _Tracked(metastasis_of_size(study_rng, head, float(diameter), avoid))
            drawn = []  # (stable id, split_from, Lesion)
            for lesion_id, item in list(tracked.items()):
                if item.change.scale <= 0:
                    continue
                lesion = _scaled(item.lesion, item.change.scale)
                if item.change.split:
                    if item.fragment_id is None:
                        item.fragment_id = _next_id(tracked)
                    first, second = _fragments(lesion)
                    drawn += [(lesion_id, None, first), (item.fragment_id, lesion_id, second)]
                else:
                    drawn.append((lesion_id, None, lesion))
            rendered = [render(lesion, head, voxel_mm) for _, _, lesion in drawn]
            pose = None if study == 0 else _study_pose(study_rng, baseline_pose, plan.rotation_deg,
                                                       head.surface_points.mean(axis=0))
            acquisitions = {seq: sample_acquisition(study_rng, seq, voxel_mm, head,
                                                    pose=pose if seq == "t1ce" else None)
                            for seq in sequences}
            if study == 0:
                baseline_pose = acquisitions["t1ce"].world_to_scanner
            acquired = {seq: acquire(acq, head, rendered + rendered_distractors, tissue[seq], study_rng,
                                     brain_mask=False) for seq, acq in acquisitions.items()}
            voxel_mm3 = float(np.prod(acquisitions["t1ce"].grid.spacing))
            instances = acquired["t1ce"].instances
            records = [lesion_record(i, r, np.count_nonzero(instances == i) * voxel_mm3)
                       for i, r in enumerate(rendered, 1)]
            world_from_baseline = np.linalg.inv(baseline_pose)
            followup_truth = {
                "study": study, "date": (FIRST_DATE + datetime.timedelta(days=STUDY_INTERVAL_DAYS * study)).isoformat(),
                "rotation_from_baseline_deg": round(rigid_parameters(
                    acquisitions["t1ce"].world_to_scanner @ world_from_baseline)["rotation_deg"], 4),
                "lesions": [{"id": stable, "split_from": parent, "instance_id": index,
                             **_truth_size(lesion, head, world_from_baseline)}
                            for index, (stable, parent, lesion) in enumerate(drawn, 1)],
            }
            truth = build_truth(
                case_id=f"{name}-study-{study}", seed=seed, kind=kind, tumour_type=TUMOUR_TYPE_OF_KIND[kind],
                gbm_met_label=GBM_MET_LABEL_OF_KIND.get(kind), voxel_mm=float(voxel_mm), lesions=records,
                roi_lesion=rendered[int(np.argmax([r.lesion.diameter_mm for r in rendered]))] if rendered else None,
                acquisitions=acquisitions, files={seq: f"{seq}.nii.gz" for seq in sequences},
                world_to_template=head.world_to_template, distractors={"white_matter_lesions": len(distractors)})
            truth["followup"] = followup_truth
            folder = staging / f"study-{study}"
            _write_study(folder, acquired, truth)
            folders.append(final / folder.name)
    return folders


def study_dates(folders: list[Path]) -> list[str]:
    """The study dates written in each study's truth."""
    return [json.loads((Path(folder) / "truth.json").read_text())["followup"]["date"] for folder in folders]


def truth_trajectory(folders: list[Path]) -> Trajectory:
    """The follow-up's truth as a Trajectory (stable ids, sizes of the continuous shapes), the input
    the response criteria take: their categories on it are the truth's."""
    truths = [json.loads((Path(folder) / "truth.json").read_text())["followup"] for folder in folders]
    tracks: dict[int, Track] = {}
    sizes = []
    for study, truth in enumerate(truths):
        present = {}
        for lesion in truth["lesions"]:
            track = tracks.setdefault(lesion["id"], Track(id=lesion["id"], first_study=study,
                                                          split_from=lesion["split_from"]))
            track.labels[study] = lesion["instance_id"]
            present[lesion["id"]] = LesionSize(
                volume_mm3=lesion["volume_mm3"], longest_diameter_mm=lesion["longest_diameter_mm"],
                perpendicular_diameter_mm=lesion["perpendicular_diameter_mm"],
                centroid_ras=tuple(lesion["centroid_ras"]), axial_s_ras=lesion["axial_s_ras"])
        sizes.append(present)
    return Trajectory(dates=[datetime.date.fromisoformat(t["date"]) for t in truths], sizes=sizes,
                      tracks=[tracks[i] for i in sorted(tracks)])
