"""A core command the panel runs in the background, from start to the nodes it adds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from .background import BackgroundProcess, ProgressEvent
from .errors import BrainTumorAIError, RunCancelled
from .scene_io import nodes_removed_on_error


class BackgroundRun:
    """Poll it, wait for it, cancel it, then `load_results` (on Slicer's main thread) adds its nodes
    or raises its error (RunCancelled / BrainTumorAIError) leaving the scene unchanged. The
    temporary inputs (`run_dir / inputs_folder`) are removed either way, the whole `run_dir` on
    failure. Subclasses say what a finished run becomes (`_load`)."""

    what = "the run"
    inputs_folder = "inputs"

    def __init__(self, process: BackgroundProcess, run_dir: Path, name_prefix: str):
        self.process, self.run_dir, self.name_prefix = process, run_dir, name_prefix

    @property
    def output_dir(self) -> Path:
        return self.run_dir / "output"

    @property
    def finished(self) -> bool:
        return not self.process.running

    def poll(self) -> list[ProgressEvent]:
        """Progress events since the last poll (the Widget's timer calls this)."""
        return self.process.poll()

    def cancel(self) -> None:
        self.process.cancel()

    def wait(self, progress_callback: Callable[[ProgressEvent], None] | None = None) -> None:
        """Block until the process ends, passing each progress event to `progress_callback`
        (which may call `cancel`)."""
        self.process.follow(progress_callback)

    def load_results(self):
        status = self.process.wait()
        try:
            if self.process.cancelled:
                raise RunCancelled(f"{self.what} was cancelled")
            if status != 0:
                raise BrainTumorAIError(self.process.error_message())
            with nodes_removed_on_error():
                return self._load()
        except BaseException:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(self.run_dir / self.inputs_folder, ignore_errors=True)

    def _load(self):
        raise NotImplementedError


class BackgroundLogic:
    """What a logic that starts BackgroundRuns shares: the active run, cancelling it, and the
    blocking form (start, wait, load)."""

    active_run: BackgroundRun | None = None

    def cancel(self) -> None:
        """Cancel the active run (from a progress callback or another thread)."""
        if self.active_run is not None:
            self.active_run.cancel()

    def _wait_and_load(self, run: BackgroundRun, progress_callback):
        try:
            run.wait(progress_callback)
            return run.load_results()
        finally:
            self.active_run = None
