"""BrainTumorAITrainingLogic: k-fold training and evaluation from Slicer's Python console.

Cases come from folders or CSV manifests (the core's index) or from the scene's volumes and
segmentations (written as a manifest first). `braintumorai train` / `evaluate` run in a
background process with JSON progress, like the analysis; a finished training is registered
in the per-user model registry, so the panel offers its model set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from .background import BackgroundProcess, ProgressEvent
from .core_process import start_core
from .errors import BrainTumorAIError, RunCancelled
from .scene_cases import SceneCase, cases_from_scene, write_manifest

TRAINING_REPORT = "training_report.json"
EVALUATION_REPORT = "evaluation.json"


class BrainTumorAITrainingLogic:
    """Index cases, train a task's model set with k-fold cross-validation, evaluate, register."""

    def __init__(self, python: str | None = None):
        self.python = python  # None: Slicer's Python (see core_process.slicer_python)
        self.active_process: BackgroundProcess | None = None

    @staticmethod
    def index_cases(source, task: str = "gbm-met") -> list:
        """The core's cases (BrainTumorAILib.training.Case) of a folder or CSV manifest, labelled
        for `task`."""
        from BrainTumorAILib.training import create_adapter, index_cases

        return index_cases(Path(source), label_key=create_adapter(task).truth_label_key)

    @staticmethod
    def scene_cases(labels: dict | None = None, patients: dict | None = None, scene=None) -> list[SceneCase]:
        """Cases made of the scene's nodes, grouped by name (see scene_cases)."""
        return cases_from_scene(labels, patients, scene)

    @staticmethod
    def train_arguments(task: str, data, out, preset: str | None = None, folds: int | None = None,
                        config=None) -> list:
        """The `braintumorai train` arguments (the logic adds `--progress json`)."""
        arguments = ["train", "--task", task, "--data", Path(data), "--out", Path(out)]
        if preset:
            arguments += ["--preset", preset]
        if folds is not None:
            arguments += ["--folds", int(folds)]
        if config is not None:
            arguments += ["--config", Path(config)]
        return arguments + ["--progress", "json"]

    def train(self, task: str, data, out, preset: str | None = None, folds: int | None = 5, config=None,
              register: bool = True, name: str | None = None,
              progress_callback: Callable[[ProgressEvent], None] | None = None) -> dict:
        """Train `task` on `data` (folder, CSV manifest, or a list of SceneCase) into `out`; returns
        training_report.json's content. With `register`, the model set is added to the per-user
        registry under `name` (default: task and output folder name)."""
        out = Path(out)
        if not isinstance(data, (str, Path)):
            data = write_manifest(list(data), out / "cases")
        self._run(self.train_arguments(task, data, out, preset, folds, config), progress_callback)
        report = json.loads((out / TRAINING_REPORT).read_text(encoding="utf-8"))
        if register:
            self.register(out, name)
        return report

    @staticmethod
    def register(out, name: str | None = None):
        """Register the model set of a finished training folder; returns the core's ModelSet."""
        from BrainTumorAILib.training.registration import register_model_set

        out = Path(out)
        report = json.loads((out / TRAINING_REPORT).read_text(encoding="utf-8"))
        return register_model_set(report, out, name=name)

    @staticmethod
    def evaluate_arguments(task: str, pred, truth, out) -> list:
        return ["evaluate", "--task", task, "--pred", Path(pred), "--truth", Path(truth), "--out", Path(out)]

    def evaluate(self, task: str, pred, truth, out) -> dict:
        """Statistics of run outputs (`pred`: one `run` folder per case) against the truth (case
        folder or manifest); returns evaluation.json's content."""
        self._run(self.evaluate_arguments(task, pred, truth, out), None)
        return json.loads((Path(out) / EVALUATION_REPORT).read_text(encoding="utf-8"))

    def cancel(self) -> None:
        """Stop the running training or evaluation and all its processes."""
        if self.active_process is not None:
            self.active_process.cancel()

    def _run(self, arguments: list, progress_callback) -> None:
        self.active_process = start_core(arguments, python=self.python)
        try:
            status = self.active_process.follow(progress_callback)
            if self.active_process.cancelled:
                raise RunCancelled(f"{arguments[0]} was cancelled")
            if status != 0:
                raise BrainTumorAIError(f"{arguments[0]} failed: {self.active_process.error_message()}")
        finally:
            self.active_process = None
