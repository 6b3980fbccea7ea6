"""BrainTumorAIFollowupLogic: compare a patient's studies over time from the scene (or from folders).

Each study is a date with either volumes and an earlier result (a T1CE and its lesion
segmentation or label map), volumes only (the segmentation task runs first), or a folder on disk
(a `run` output or its inputs). The logic writes them through storage nodes, runs
`python -m BrainTumorAILib followup ... --progress json` in a background process and, on
success only, adds: one segmentation per study with the stable lesion ids (segment `lesion <id>`,
one colour per id in every study), a table of the trajectory (followup.csv), and a chart of the
RANO-BM sum of longest diameters over time. The response per criterion is in `summary_lines`.
"""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import slicer
import vtk

from BrainTumorAILib.catalog import SEQUENCES
from BrainTumorAILib.followup.colours import lesion_rgb

from .background_run import BackgroundLogic, BackgroundRun
from .core_process import start_core
from .errors import BrainTumorAIError
from .result_nodes import RESULT_ATTRIBUTE, results_table, segmentation_from_labels
from .scene_io import temporary_nodes, write_volume

CLINICAL_KEYS = ("steroids", "clinical_status", "non_target_progression")
TRAJECTORY_COLUMNS = ("id", "date", "status", "volume_mm3", "longest_diameter_mm", "perpendicular_diameter_mm",
                      "product_mm2", "split_from", "merged_into", "target_rano_bm", "target_rano2")


@dataclass
class FollowupStudy:
    """One study: its date (YYYY-MM-DD) and its data, as scene nodes or a folder on disk."""

    date: str
    t1ce: object = None
    lesions: object = None   # a segmentation or label map node on the T1CE (an earlier result)
    t2: object = None
    flair: object = None
    t1: object = None
    folder: str | Path | None = None


@dataclass
class FollowupResults:
    result: dict
    segmentations: dict = field(default_factory=dict)  # date -> segmentation node
    table: object = None
    chart: object = None
    output_dir: Path | None = None

    def all_nodes(self) -> list:
        return [*self.segmentations.values(), self.table, self.chart]

    def summary_lines(self) -> list[str]:
        """The response per criterion, as the panel shows it."""
        lines = []
        for key, name in (("rano_bm", "RANO-BM"), ("rano2", "RANO 2.0")):
            entry = self.result[key]
            lines.append(f"{name}: {entry['display']} (volumetric: {entry['volumetric']['display']})")
        return lines


def write_lesion_labels(lesions, reference, path: Path) -> Path:
    """A label map file of the lesions (a label map node, or a segmentation exported on `reference`'s grid)."""
    if lesions.IsA("vtkMRMLLabelMapVolumeNode"):
        return write_volume(lesions, path)
    if not lesions.IsA("vtkMRMLSegmentationNode"):
        raise BrainTumorAIError(f"'{lesions.GetName()}' is neither a segmentation nor a label map")
    with temporary_nodes():  # the export needs its label map in the scene
        labels = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "BrainTumorAI export")
        if not slicer.modules.segmentations.logic().ExportVisibleSegmentsToLabelmapNode(lesions, labels, reference):
            raise BrainTumorAIError(f"could not export the segmentation '{lesions.GetName()}'")
        return write_volume(labels, path)


class FollowupRun(BackgroundRun):
    """A background follow-up; `load_results` gives FollowupResults."""

    what = "the follow-up"
    inputs_folder = "studies"

    def _load(self) -> FollowupResults:
        result = json.loads((self.output_dir / "followup.json").read_text(encoding="utf-8"))
        return load_followup_nodes(self.output_dir, result, self.name_prefix)


def load_followup_nodes(out_dir: Path, result: dict, name_prefix: str) -> FollowupResults:
    """Segmentations with stable lesion ids and colours, the trajectory table and the sum chart."""
    results = FollowupResults(result=result, output_dir=Path(out_dir))
    for study in result["studies"]:
        ids = {lesion["id"] for lesion in study["lesions"] if lesion["volume_mm3"] is not None}
        node = segmentation_from_labels(Path(out_dir) / study["labels_file"],
                                        f"{name_prefix} lesions {study['date']}", "followup", ids)
        segmentation = node.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segment = segmentation.GetNthSegment(index)
            segment.SetColor(lesion_rgb(segment.GetLabelValue()))
        results.segmentations[study["date"]] = node
    with open(Path(out_dir) / "followup.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    results.table = results_table(f"{name_prefix} follow-up trajectory", rows, TRAJECTORY_COLUMNS)
    results.chart = sum_chart(result, f"{name_prefix} sum of diameters")
    for node in results.all_nodes():
        node.SetAttribute(RESULT_ATTRIBUTE, "followup")
    return results


def sum_chart(result: dict, name: str):
    """The RANO-BM sum of the target lesions' longest diameters over time (days from the baseline)."""
    scene = slicer.mrmlScene
    baseline = datetime.date.fromisoformat(result["baseline"])
    days, sums = vtk.vtkDoubleArray(), vtk.vtkDoubleArray()
    days.SetName("days from baseline")
    sums.SetName("sum of longest diameters (mm)")
    for entry in result["rano_bm"]["by_study"]:
        days.InsertNextValue(float((datetime.date.fromisoformat(entry["date"]) - baseline).days))
        sums.InsertNextValue(float(entry["sum_mm"]))
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table.GetTable().AddColumn(days)
    table.GetTable().AddColumn(sums)
    table.SetAttribute(RESULT_ATTRIBUTE, "followup")
    series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name)
    series.SetAndObserveTableNodeID(table.GetID())
    series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
    series.SetXColumnName(days.GetName())
    series.SetYColumnName(sums.GetName())
    series.SetAttribute(RESULT_ATTRIBUTE, "followup")
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    chart.AddAndObservePlotSeriesNodeID(series.GetID())
    chart.SetTitle(f"RANO-BM: {result['rano_bm']['display']}")
    chart.SetXAxisTitle("days from baseline")
    chart.SetYAxisTitle("sum of target diameters (mm)")
    return chart


class BrainTumorAIFollowupLogic(BackgroundLogic):
    """Runs `followup` on studies from the scene or from folders; no Qt."""

    def __init__(self, work_dir: Path | None = None, python: str | None = None):
        self.work_dir = Path(work_dir) if work_dir else None
        self.python = python
        self.active_run: FollowupRun | None = None

    def process(self, studies: list[FollowupStudy], clinical: dict | None = None, task: str | None = None,
                device: str = "auto", progress_callback=None) -> FollowupResults:
        """The blocking form: start, wait, load the nodes."""
        return self._wait_and_load(self.start(studies, clinical, task, device), progress_callback)

    def start(self, studies: list[FollowupStudy], clinical: dict | None = None, task: str | None = None,
              device: str = "auto") -> FollowupRun:
        """Check and write the studies, start the background follow-up; the scene is not touched.

        `clinical` maps a study date to the reader's items (steroids, clinical_status,
        non_target_progression), see BrainTumorAILib.followup.clinical."""
        check_studies(studies, clinical or {})
        run_dir = Path(tempfile.mkdtemp(prefix="BrainTumorAI-followup-", dir=self.work_dir))
        try:
            arguments = ["followup", "--out", run_dir / "output", "--device", device, "--progress", "json"]
            for index, study in enumerate(studies):
                arguments += ["--study", f"{study.date}={self._write_study(study, run_dir / 'studies' / str(index))}"]
            if task:
                arguments += ["--task", task]
            if clinical:
                clinical_file = run_dir / "clinical.json"
                clinical_file.write_text(json.dumps(clinical), encoding="utf-8")
                arguments += ["--clinical", clinical_file]
            process = start_core(arguments, cwd=run_dir, python=self.python)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        prefix = next((s.t1ce.GetName() for s in studies if s.t1ce is not None), "follow-up")
        self.active_run = FollowupRun(process, run_dir, prefix)
        return self.active_run

    @staticmethod
    def _write_study(study: FollowupStudy, folder: Path) -> Path:
        if study.folder is not None:
            return Path(study.folder)
        folder.mkdir(parents=True)
        for name in SEQUENCES:
            node = getattr(study, name)
            if node is not None:
                write_volume(node, folder / f"{name}.nrrd")
        if study.lesions is not None:
            write_lesion_labels(study.lesions, study.t1ce, folder / "lesions.nrrd")
        return folder


def panel_studies(earlier_text: str, date: str, t1ce, t2=None, flair=None, t1=None, lesions=None) -> list[FollowupStudy]:
    """The panel's studies: one `YYYY-MM-DD=FOLDER` line per earlier study (a run output or its inputs),
    then the current one (its volumes, and the latest run's lesion segmentation when there is one)."""
    studies = []
    for line in earlier_text.splitlines():
        if not line.strip():
            continue
        study_date, separator, folder = line.partition("=")
        if not separator or not folder.strip():
            raise BrainTumorAIError(f"write each earlier study as YYYY-MM-DD=FOLDER, got {line.strip()!r}")
        studies.append(FollowupStudy(study_date.strip(), folder=folder.strip()))
    current = FollowupStudy(date.strip(), t1ce=t1ce, lesions=lesions)
    if lesions is None:  # no earlier result for the current volumes: the segmentation task runs on them
        current.t2, current.flair, current.t1 = t2, flair, t1
    return studies + [current]


def check_studies(studies: list[FollowupStudy], clinical: dict) -> None:
    """Refuse what the follow-up would refuse after a slow start, naming the problem."""
    if len(studies) < 2:
        raise BrainTumorAIError("choose at least two studies to compare")
    dates = []
    for study in studies:
        try:
            dates.append(datetime.date.fromisoformat(str(study.date)))
        except ValueError:
            raise BrainTumorAIError(f"study date must be YYYY-MM-DD, got {study.date!r}") from None
        if study.folder is None and study.t1ce is None:
            raise BrainTumorAIError(f"study {study.date}: choose its T1CE volume (or a folder)")
        if study.folder is not None and not Path(study.folder).is_dir():
            raise BrainTumorAIError(f"study {study.date}: folder not found: {study.folder}")
    if len(set(dates)) != len(dates):
        raise BrainTumorAIError("two studies have the same date")
    for date, items in clinical.items():
        unknown = sorted(set(items) - set(CLINICAL_KEYS))
        if unknown:
            raise BrainTumorAIError(f"unknown clinical item {', '.join(unknown)} for {date}")
