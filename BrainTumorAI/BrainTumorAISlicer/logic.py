"""BrainTumorAILogic: run the core's `run` command on scene volumes and add the results as nodes.

The logic writes the inputs through storage nodes into a temporary folder, starts
`python -m BrainTumorAILib run ... --progress json` in a background process, relays progress,
can cancel (killing the whole process tree), and only when the run succeeds adds new nodes.
A failed or cancelled run leaves the scene exactly as it was and raises BrainTumorAIError.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from BrainTumorAILib.catalog import DEVICES, SEQUENCES, task_specs

from .background import BackgroundProcess, ProgressEvent
from .background_run import BackgroundLogic, BackgroundRun
from .core_process import start_core
from .errors import BrainTumorAIError
from .result_nodes import ResultNodes, load_result_nodes
from .result_summary import ResultSummary, summarize
from .scene_io import boxes_overlap, roi_world_box, world_bounds, write_volume

REQUIRED_SEQUENCES = ("t1ce", "t2")  # the `run` command always needs both
SEQUENCE_TITLES = {"t1ce": "T1CE", "t2": "T2", "flair": "FLAIR", "t1": "T1"}


@dataclass
class RunResults:
    """A successful run: result.json's content, the new nodes, and the folder of the CLI's files
    (result.json, lesions.csv, report.html and the images)."""

    result: dict
    nodes: ResultNodes
    output_dir: Path

    @property
    def summary(self) -> ResultSummary:
        return summarize(self.result)


class AnalysisRun(BackgroundRun):
    """One background run started by BrainTumorAILogic.start; `load_results` gives RunResults."""

    def __init__(self, process: BackgroundProcess, run_dir: Path, inputs: dict, name_prefix: str):
        super().__init__(process, run_dir, name_prefix)
        self.inputs = inputs

    def _load(self) -> RunResults:
        result = json.loads((self.output_dir / "result.json").read_text(encoding="utf-8"))
        return RunResults(result, load_result_nodes(self.output_dir, result, self.inputs, self.name_prefix),
                          self.output_dir)


class BrainTumorAILogic(BackgroundLogic):
    """The module's logic; no Qt, so it runs in Slicer and on slicer-core alike."""

    def __init__(self, work_dir: Path | None = None, python: str | None = None):
        self.work_dir = Path(work_dir) if work_dir else None  # None: the system's temporary folder
        self.python = python  # None: Slicer's Python (see core_process.slicer_python)
        self.active_run: AnalysisRun | None = None

    def process(self, t1ce, t2, flair=None, t1=None, roi=None, tasks="all", device="auto",
                progress_callback: Callable[[ProgressEvent], None] | None = None) -> RunResults:
        """The blocking form: run, wait, and return the results (nodes already in the scene)."""
        run = self.start(t1ce=t1ce, t2=t2, flair=flair, t1=t1, roi=roi, tasks=tasks, device=device)
        return self._wait_and_load(run, progress_callback)

    def start(self, t1ce, t2, flair=None, t1=None, roi=None, tasks="all", device="auto") -> AnalysisRun:
        """Check the inputs, write them, start the background run; the scene is not touched."""
        inputs = {name: node for name, node in zip(SEQUENCES, (t1ce, t2, flair, t1)) if node is not None}
        task_names = parse_tasks(tasks)
        check_inputs(inputs, roi, task_names, device)
        run_dir = Path(tempfile.mkdtemp(prefix="BrainTumorAI-run-", dir=self.work_dir))
        try:
            arguments = ["run", *self._write_inputs(inputs, roi, run_dir / "inputs"),
                         "--out", run_dir / "output", "--tasks", ",".join(task_names) if task_names else "all",
                         "--device", device, "--progress", "json"]
            process = start_core(arguments, cwd=run_dir, python=self.python)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        self.active_run = AnalysisRun(process, run_dir, inputs, name_prefix=t1ce.GetName())
        return self.active_run

    @staticmethod
    def _write_inputs(inputs: dict, roi, folder: Path) -> list:
        folder.mkdir(parents=True)
        arguments = []
        for name, node in inputs.items():
            arguments += [f"--{name}", write_volume(node, folder / f"{name}.nrrd")]
        if roi is not None:
            arguments += ["--roi", roi_world_box(roi).to_markups_json(folder / "roi.mrk.json")]
        return arguments

    @staticmethod
    def installed_model_sets() -> dict[str, list[dict]]:
        """Task -> descriptions of its registered model sets (name, version, demo, notice), every
        task included (re-read, so a set registered since, and its task package, appear).

        Reads the registry and the cards only: no torch is imported.
        """
        from BrainTumorAILib.models.registry import ModelRegistry

        registry = ModelRegistry.load()
        return {task: [s.describe() for s in registry.model_sets(task)] for task in task_specs(refresh=True)}


def parse_tasks(tasks) -> list[str]:
    """[] for all tasks the inputs allow, else the named tasks (a list or a comma-separated string)."""
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if names in ([], ["all"]):
        return []
    specs = task_specs()
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise BrainTumorAIError(f"unknown task {', '.join(unknown)}; choose from {', '.join(specs)}")
    return names


def check_inputs(inputs: dict, roi, task_names: list[str], device: str) -> None:
    """Refuse, with a message naming the problem, what the run would refuse after a slow start."""
    for name in REQUIRED_SEQUENCES:
        if name not in inputs:
            raise BrainTumorAIError(f"select a {SEQUENCE_TITLES[name]} volume: every run needs T1CE and T2")
    for name, node in inputs.items():
        if not node.IsA("vtkMRMLScalarVolumeNode") or node.IsA("vtkMRMLLabelMapVolumeNode"):
            raise BrainTumorAIError(f"the {SEQUENCE_TITLES[name]} input '{node.GetName()}' is not a scalar volume")
        if node.GetImageData() is None:
            raise BrainTumorAIError(f"the {SEQUENCE_TITLES[name]} input '{node.GetName()}' has no image data")
    for task in task_names:
        spec = task_specs()[task]
        missing = [SEQUENCE_TITLES[s] for s in spec.sequences if s not in inputs]
        if missing:
            raise BrainTumorAIError(f"{task} needs {' and '.join(missing)}: select {'them' if len(missing) > 1 else 'it'}")
        if spec.needs_roi and roi is None:
            raise BrainTumorAIError(f"{task} needs an ROI: place a Markups ROI around the tumour")
    if roi is not None:
        if not roi.IsA("vtkMRMLMarkupsROINode"):
            raise BrainTumorAIError(f"'{roi.GetName()}' is not a Markups ROI")
        roi_world_box(roi)  # refuses an ROI not placed yet or of zero size
        roi_bounds = world_bounds(roi)
        for name in REQUIRED_SEQUENCES:
            if not boxes_overlap(roi_bounds, world_bounds(inputs[name])):
                raise BrainTumorAIError(f"ROI '{roi.GetName()}' lies outside the {SEQUENCE_TITLES[name]} volume "
                                        f"'{inputs[name].GetName()}'")
    if device not in DEVICES:
        raise BrainTumorAIError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")
