"""Turn the files of `braintumorai run` into scene nodes: segmentations, maps, a table, charts.

Files (the contract): `<task>_seg.nii.gz` (uint8 labels; where the task lists lesions, the label
value is the lesion id), `<task>_cam.nii.gz` and `<task>_prob.nii.gz` (float 0-1), result.json
and lesions.csv. Every image keeps the geometry the CLI wrote, read through a storage node.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import slicer
import vtk

from BrainTumorAILib.catalog import LESION_KEYS, task_specs

from .errors import BrainTumorAIError
from .scene_io import read_volume, read_volume_into
from .terminology import METASTATIC_NEOPLASM, NEOPLASM, terminology_entry

RESULT_ATTRIBUTE = "BrainTumorAI.Result"  # on every result node: the task it came from
# Slicer's cold-to-hot colour table when present (a Slicer application ships it), else Rainbow.
MAP_COLOR_NODE_IDS = ("vtkMRMLColorTableNodeFileColdToHotRainbow.txt", "vtkMRMLColorTableNodeRainbow")
LESION_COLOR_NODE_ID = "vtkMRMLColorTableNodeLabels"  # a distinct colour per lesion id
MAP_DISPLAY_THRESHOLD = 0.1  # weaker activation is left transparent so the anatomy shows through
OVERLAY_OPACITY = 0.5
SEGMENT_TYPES = {"neoplasm": NEOPLASM, "metastatic_neoplasm": METASTATIC_NEOPLASM}  # TaskSpec.segment_type
# the panel's table: one row per finding, the lesion columns of lesions.csv after the lesion id
TABLE_COLUMNS = ("task", "finding", "value", "lesion") + tuple(k for k in LESION_KEYS if k != "id")


@dataclass
class ResultNodes:
    """The nodes one run added, by task."""

    segmentations: dict = field(default_factory=dict)
    activation_maps: dict = field(default_factory=dict)
    probability_maps: dict = field(default_factory=dict)
    charts: dict = field(default_factory=dict)
    table: object = None

    def of_kind(self, kind: str) -> dict:
        """Task -> node for an image kind of the contract (seg, cam, prob)."""
        return {"seg": self.segmentations, "cam": self.activation_maps, "prob": self.probability_maps}[kind]

    def all_nodes(self) -> list:
        nodes = [*self.segmentations.values(), *self.activation_maps.values(), *self.probability_maps.values(),
                 *self.charts.values()]
        return nodes + ([self.table] if self.table is not None else [])


def read_lesion_rows(path: Path) -> list[dict]:
    """lesions.csv as dictionaries (one per lesion, all tasks)."""
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def load_result_nodes(out_dir: Path, result: dict, inputs: dict, name_prefix: str) -> ResultNodes:
    """Add a run's results to the scene; `inputs` maps sequence -> the input volume node."""
    out_dir = Path(out_dir)
    lesions = read_lesion_rows(out_dir / "lesions.csv")
    nodes = ResultNodes()
    for task, entry in result["tasks"].items():
        prefix = f"{name_prefix} {task}"
        seg_file = out_dir / f"{task}_seg.nii.gz"
        if seg_file.is_file():
            lesion_ids = {int(row["id"]) for row in lesions if row["task"] == task}
            nodes.segmentations[task] = segmentation_from_labels(seg_file, f"{prefix} segmentation", task, lesion_ids)
        for kind, title in (("cam", "activation map"), ("prob", "probability")):
            path = out_dir / f"{task}_{kind}.nii.gz"
            if path.is_file():
                nodes.of_kind(kind)[task] = map_volume(path, f"{prefix} {title}", task)
        if isinstance(entry.get("probabilities"), dict):
            nodes.charts[task] = probability_chart(task, entry["probabilities"], f"{prefix} probabilities")
    nodes.table = results_table(f"{name_prefix} BrainTumorAI results", result_table_rows(result, lesions))
    # Slice views hold one foreground: the first task's map (run order puts gbm-met's CAM over the
    # T2 first); the others are a selector click away.
    for task, activation_map in list(nodes.activation_maps.items())[:1]:
        background = inputs.get(_geometry_source(task)) or next(iter(inputs.values()))
        slicer.util.setSliceViewerLayers(background=background, foreground=activation_map,
                                         foregroundOpacity=OVERLAY_OPACITY)
    return nodes


def _geometry_source(task: str) -> str:
    spec = task_specs().get(task)
    return spec.geometry_of if spec is not None else "t1ce"


def segmentation_from_labels(path: Path, name: str, task: str, lesion_ids: set[int]):
    """A segmentation node with one segment per label value: `lesion <id>` where the value is a
    lesion id of the table, else `<task> label <value>`; SNOMED CT terminology on each."""
    labels = slicer.vtkMRMLLabelMapVolumeNode()  # a carrier outside the scene
    read_volume_into(path, labels)
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.SetAttribute(RESULT_ATTRIBUTE, task)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(labels)
    if not slicer.modules.segmentations.logic().ImportLabelmapToSegmentationNode(labels, node):
        raise BrainTumorAIError(f"could not import {path.name} as a segmentation")
    colors = slicer.mrmlScene.GetNodeByID(LESION_COLOR_NODE_ID)
    spec = task_specs().get(task)
    entry = terminology_entry(SEGMENT_TYPES[spec.segment_type] if spec is not None else NEOPLASM)
    segmentation = node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        value = segment.GetLabelValue()
        segment.SetName(f"lesion {value}" if value in lesion_ids else f"{task} label {value}")
        segment.SetTerminology(entry)
        rgba = [0.0] * 4
        colors.GetColor(value, rgba)
        segment.SetColor(rgba[:3])
    node.CreateClosedSurfaceRepresentation()
    return node


def map_volume(path: Path, name: str, task: str):
    """A 0-1 map (CAM or probability) as a scalar volume with a colour map and fixed 0-1 window."""
    node = read_volume(path, name)
    node.SetAttribute(RESULT_ATTRIBUTE, task)
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    color_id = next((i for i in MAP_COLOR_NODE_IDS if slicer.mrmlScene.GetNodeByID(i) is not None), None)
    if color_id is not None:
        display.SetAndObserveColorNodeID(color_id)
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, 1.0)
    display.AutoThresholdOff()
    display.SetThreshold(MAP_DISPLAY_THRESHOLD, 1.0)
    display.ApplyThresholdOn()
    return node


def result_table_rows(result: dict, lesions: list[dict]) -> list[dict]:
    """Rows of the results table: each task's scalar findings and class probabilities, the model
    set used, then one row per lesion (from lesions.csv)."""
    rows = []
    for task, entry in result["tasks"].items():
        for key, value in entry.items():
            if isinstance(value, (str, int, float, bool)) and value != "":
                rows.append({"task": task, "finding": key.replace("_", " "), "value": _text(value)})
        for class_name, probability in (entry.get("probabilities") or {}).items():
            rows.append({"task": task, "finding": f"probability {class_name}", "value": _text(probability)})
        model_set = (result.get("models") or {}).get(task)
        if model_set and "model_set" not in entry:
            rows.append({"task": task, "finding": "model set", "value": model_set["name"]})
    for lesion in lesions:
        rows.append({**{k: _text(v) for k, v in lesion.items() if k in TABLE_COLUMNS},
                     "finding": "lesion", "lesion": lesion["id"]})
    return rows


def _text(value) -> str:
    """Numbers to four significant digits (lesions.csv cells arrive as text), the rest as is."""
    if isinstance(value, (bool, int)):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}" if isinstance(value, float) or "." in value else value


def results_table(name: str, rows: list[dict], columns=TABLE_COLUMNS):
    """A table node of text columns (empty cells where a row has no value)."""
    node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", name)
    node.SetAttribute(RESULT_ATTRIBUTE, "all")
    table = node.GetTable()
    for column in columns:
        array = vtk.vtkStringArray()
        array.SetName(column)
        for row in rows:
            array.InsertNextValue(str(row.get(column, "")))
        table.AddColumn(array)
    node.Modified()
    return node


def probability_chart(task: str, probabilities: dict, name: str):
    """A bar chart of class probabilities (table, plot series and chart nodes)."""
    scene = slicer.mrmlScene
    table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    classes, values = vtk.vtkStringArray(), vtk.vtkDoubleArray()
    classes.SetName("class")
    values.SetName("probability")
    for class_name, probability in probabilities.items():
        classes.InsertNextValue(class_name)
        values.InsertNextValue(float(probability))
    table_node.GetTable().AddColumn(classes)
    table_node.GetTable().AddColumn(values)
    series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name)
    series.SetAndObserveTableNodeID(table_node.GetID())
    series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
    series.SetYColumnName("probability")
    series.SetLabelColumnName("class")
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    chart.AddAndObservePlotSeriesNodeID(series.GetID())
    chart.SetTitle(f"{task}: class probabilities")
    chart.SetXAxisTitle("class")
    chart.SetYAxisTitle("probability")
    chart.SetYAxisRangeAuto(False)
    chart.SetYAxisRange(0.0, 1.0)
    for node in (table_node, series, chart):
        node.SetAttribute(RESULT_ATTRIBUTE, task)
    return chart
