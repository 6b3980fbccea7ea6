"""Training cases from the scene: volumes, segmentations and ROIs grouped by case name, written
as the core's CSV manifest (columns case_id, patient_id, label, t1ce, t2, flair, t1, seg, roi_ras).

A case's nodes share a name stem: `<case><sep><sequence>` for volumes (BraTS-GLI-00001-000-t1c,
case07_T2, ...), `<case><sep>seg` for its segmentation and `<case><sep>roi` for a Markups ROI.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import slicer

from .errors import BrainTumorAIError
from .scene_io import ijk_to_world, roi_world_box, world_bounds, write_volume
from .sequence_names import case_name, sequence_of_name, strip_separators

SEGMENTATION_TOKEN = re.compile(r"(?<![a-z0-9])(?:seg|segmentation|labels?)(?![a-z0-9])")
ROI_TOKEN = re.compile(r"(?<![a-z0-9])roi(?![a-z0-9])")
SEG_MARGIN_MM = 4.0  # an ROI made from a segmentation encloses it with this margin


@dataclass
class SceneCase:
    """One case of the scene: its volumes by sequence, optional segmentation, ROI and label."""

    case_id: str
    volumes: dict = field(default_factory=dict)
    segmentation: object = None
    roi: object = None
    label: str | None = None
    patient_id: str | None = None

    def roi_ras(self) -> list[float] | None:
        """RMIN,RMAX,AMIN,AMAX,SMIN,SMAX: the ROI node's box, else the segmentation's, widened."""
        if self.roi is not None:
            return [round(float(v), 2) for v in roi_world_box(self.roi).bounds_ras()]
        if self.segmentation is not None and self.segmentation.GetSegmentation().GetNumberOfSegments():
            bounds = world_bounds(self.segmentation) + np.tile([-SEG_MARGIN_MM, SEG_MARGIN_MM], 3)
            return [round(float(v), 2) for v in bounds]
        return None


def _stem_without(name: str, token: re.Pattern) -> str | None:
    match = token.search(name.lower())
    return strip_separators(name[:match.start()], name[match.end():]) if match else None


def cases_from_scene(labels: dict | None = None, patients: dict | None = None, scene=None) -> list[SceneCase]:
    """Group the scene's volumes into cases by name stem; `labels` / `patients` map case id to
    the case's label / patient (a case is its own patient by default). Cases sorted by id."""
    scene = scene or slicer.mrmlScene
    labels, patients = labels or {}, patients or {}
    cases: dict[str, SceneCase] = {}
    for node in _nodes(scene, "vtkMRMLScalarVolumeNode"):
        sequence, stem = sequence_of_name(node.GetName()), case_name(node.GetName())
        if node.IsA("vtkMRMLLabelMapVolumeNode") or sequence is None or not stem:
            continue
        case = cases.setdefault(stem, SceneCase(stem))
        if sequence in case.volumes:
            raise BrainTumorAIError(f"case {stem} has two {sequence} volumes: "
                                    f"'{case.volumes[sequence].GetName()}' and '{node.GetName()}'")
        case.volumes[sequence] = node
    for class_name, token, attribute in (("vtkMRMLSegmentationNode", SEGMENTATION_TOKEN, "segmentation"),
                                         ("vtkMRMLMarkupsROINode", ROI_TOKEN, "roi")):
        for node in _nodes(scene, class_name):
            stem = _stem_without(node.GetName(), token)
            if stem in cases:
                setattr(cases[stem], attribute, node)
    for case in cases.values():
        case.label = labels.get(case.case_id)
        case.patient_id = patients.get(case.case_id, case.case_id)
    return [cases[k] for k in sorted(cases)]


def _nodes(scene, class_name: str) -> list:
    collection = scene.GetNodesByClass(class_name)
    return [collection.GetItemAsObject(i) for i in range(collection.GetNumberOfItems())]


def write_manifest(cases: list[SceneCase], folder: Path) -> Path:
    """Write each case's volumes (world geometry) and segmentation (labels in the T1CE grid, label
    value = the segment's label value) under `folder`, and the manifest `folder/cases.csv`."""
    from BrainTumorAILib.training.cases import MANIFEST_COLUMNS

    if not cases:
        raise BrainTumorAIError("no case to write: name volumes <case>_<sequence> (e.g. case01_t1ce)")
    folder = Path(folder)
    rows = []
    for case in cases:
        case_dir = folder / case.case_id
        case_dir.mkdir(parents=True, exist_ok=True)
        files = {sequence: write_volume(node, case_dir / f"{sequence}.nrrd", compress=True)
                 for sequence, node in case.volumes.items()}
        if case.segmentation is not None:
            files["seg"] = _write_segmentation(case, case_dir / "seg.nrrd")
        roi = case.roi_ras()
        rows.append({"case_id": case.case_id, "patient_id": case.patient_id or case.case_id,
                     "label": case.label or "", "roi_ras": ",".join(map(str, roi)) if roi else "",
                     **{column: path.relative_to(folder).as_posix() for column, path in files.items()}})
    manifest = folder / "cases.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=[c for c in MANIFEST_COLUMNS if c != "truth"], restval="")
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def _write_segmentation(case: SceneCase, path: Path) -> Path:
    """The segments as one label volume (value: each segment's label value) on the voxel grid of
    the case's T1CE volume, else of its first volume."""
    reference = case.volumes.get("t1ce") or next(iter(case.volumes.values()))
    segmentation = case.segmentation.GetSegmentation()
    labels = np.zeros(slicer.util.arrayFromVolume(reference).shape, dtype=np.uint8)
    for index in range(segmentation.GetNumberOfSegments()):
        mask = slicer.util.arrayFromSegmentBinaryLabelmap(case.segmentation, segmentation.GetNthSegmentID(index),
                                                          reference)
        labels[mask > 0] = segmentation.GetNthSegment(index).GetLabelValue()
    carrier = slicer.vtkMRMLLabelMapVolumeNode()  # outside the scene, in the reference's world grid
    carrier.SetIJKToRASMatrix(ijk_to_world(reference))
    slicer.util.updateVolumeFromArray(carrier, labels)
    return write_volume(carrier, path, compress=True)
