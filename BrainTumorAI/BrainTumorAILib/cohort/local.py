"""The batch in this one process: cases one after another with one worker (models loaded once)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .manifest import CohortCase
from .worker import BatchSettings, worker_for


def run_local(cases: list[CohortCase], out_dir: Path, settings: BatchSettings,
              on_row: Callable[[dict], None]) -> None:
    """Run every case here; `on_row(row)` after each (progress, summary)."""
    worker = worker_for(settings)
    for case in cases:
        on_row(worker.run(case, out_dir))
