"""The ground truth of a synthetic case: truth.json (RAS in JSON, LPS matrices) and its readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..image import lps_to_ras
from ..preprocessing.transforms import apply

GENERATOR_VERSION = "1.1"  # 1.1: hard negatives (falx, tentorium, deep and cortical veins, more choroid plexus)
ROI_MARGIN_MM = 4.0
LABELS = {
    "1": "necrosis / non-enhancing tumour core",
    "2": "oedema / peritumoral T2-FLAIR hyperintensity",
    "3": "enhancing tumour",
}


def ras_box(points_lps: np.ndarray, margin_mm: float = ROI_MARGIN_MM) -> list:
    """[rmin, rmax, amin, amax, smin, smax] around LPS points, widened by `margin_mm`."""
    ras = lps_to_ras(points_lps)
    low, high = ras.min(axis=0) - margin_mm, ras.max(axis=0) + margin_mm
    return [round(float(v), 2) for pair in zip(low, high) for v in pair]


def _matrix(m) -> list:
    return [[round(float(v), 9) for v in row] for row in np.asarray(m)]


def lesion_record(lesion_id: int, rendered, volume_mm3: float) -> dict:
    lesion = rendered.lesion
    return {
        "id": lesion_id,
        "kind": lesion.kind,
        "center_ras": [round(float(v), 2) for v in lps_to_ras(rendered.centroid)],
        "diameter_mm": round(rendered.longest_diameter_mm(), 2),
        "volume_mm3": round(float(volume_mm3), 3),
        "enhancement": lesion.enhancement,
        "location": lesion.location,
    }


def sequence_record(acquisition, file_name: str) -> dict:
    grid = acquisition.grid
    return {
        "file": file_name,
        "acquisition": "3D" if acquisition.three_d else "2D",
        "size": [int(v) for v in grid.size],
        "spacing": [float(v) for v in grid.spacing],
        "slice_thickness_mm": acquisition.slice_thickness_mm,
        "origin_lps": [round(float(v), 6) for v in grid.origin],
        "direction": [round(float(v), 12) for v in grid.direction.ravel()],
        "head_rotation_deg": round(acquisition.rotation_deg, 4),
        "head_shift_mm": round(acquisition.shift_mm, 4),
    }


def build_truth(*, case_id, seed, kind, tumour_type, gbm_met_label, voxel_mm, lesions, roi_lesion,
                acquisitions, files, world_to_template, distractors) -> dict:
    """truth.json's content. `roi_lesion` is the RenderedLesion the ROI is drawn around (or None)."""
    roi = roi_by_sequence = None
    if roi_lesion is not None:
        roi = ras_box(roi_lesion.zone_points)
        roi_by_sequence = {seq: ras_box(apply(acq.world_to_scanner, roi_lesion.zone_points))
                           for seq, acq in acquisitions.items()}
    return {
        "case_id": case_id,
        "seed": int(seed),
        "kind": kind,
        "tumour_type": tumour_type,
        "gbm_met_label": gbm_met_label,
        "voxel_mm": float(voxel_mm),
        "generator": "BrainTumorAILib.synthetic",
        "generator_version": GENERATOR_VERSION,
        "coordinates": "JSON points and boxes are RAS mm in the case's world (head) frame; "
                       "matrices are 4x4 row-major LPS mm",
        "labels": LABELS,
        "lesions": lesions,
        "roi_ras": roi,
        "roi_ras_by_sequence": roi_by_sequence,
        "world_to_sequence": {seq: _matrix(acq.world_to_scanner) for seq, acq in acquisitions.items()},
        "world_to_mni": _matrix(world_to_template),
        "sequences": {seq: sequence_record(acq, files[seq]) for seq, acq in acquisitions.items()},
        "distractors": distractors,
    }


def write_truth(truth: dict, path: Path) -> None:
    path.write_text(json.dumps(truth, indent=2, allow_nan=False) + "\n")


def load_truth(case_dir) -> dict:
    """truth.json of a synthetic case folder."""
    path = Path(case_dir) / "truth.json"
    if not path.is_file():
        raise InputError(f"not a synthetic case: {path} is missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None


def true_transform(truth: dict, reference: str, moving: str) -> np.ndarray:
    """4x4 LPS matrix taking a physical point of `reference`'s input to the same anatomy in `moving`'s.

    ITK's fixed-to-moving convention (the one `preprocessing.json` uses); identity when equal.
    """
    world_to = truth["world_to_sequence"]
    for name in (reference, moving):
        if name not in world_to:
            raise InputError(f"no sequence '{name}' in the truth (have {', '.join(world_to)})")
    return np.asarray(world_to[moving], dtype=float) @ np.linalg.inv(np.asarray(world_to[reference], dtype=float))
