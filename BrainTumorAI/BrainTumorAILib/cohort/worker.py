"""One case of a batch, run in whichever process holds the worker (the local runner's own, or a
Ray worker process): threads set once, the registry read once, fold models kept across cases."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError
from .layout import publish, staging_folder
from .manifest import CohortCase
from .summary import failed_row, result_row


@dataclass(frozen=True)
class BatchSettings:
    """What every case of a batch runs with (picklable: it travels to Ray workers)."""

    tasks: str = "all"
    device: str = "auto"
    threads: int | None = None  # None: every core this process may use


def error_line(error: BaseException) -> str:
    """One line naming the problem: an input error's message, else the exception's type and text."""
    text = str(error) if isinstance(error, InputError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split()) or type(error).__name__


class CaseWorker:
    """Runs cases one after another in this process."""

    def __init__(self, settings: BatchSettings):
        from ..models.fold_cache import keep_fold_models
        from ..models.registry import ModelRegistry
        from ..threads import configure_threads

        self.settings = settings
        configure_threads(settings.threads)
        keep_fold_models()
        self.registry = ModelRegistry.load()

    def run(self, case: CohortCase, out_dir: Path) -> dict:
        """Run `case` and publish `<out>/<case>/`; the summary row, `failed` with the error line
        when anything about this case goes wrong (the batch goes on)."""
        start = time.perf_counter()
        try:
            result = self._run(case, Path(out_dir))
        except Exception as error:  # isolated to this case: its error line goes to the summary
            return failed_row(case.case_id, error_line(error), time.perf_counter() - start)
        return result_row(case.case_id, "done", result, time.perf_counter() - start)

    def _run(self, case: CohortCase, out_dir: Path) -> dict:
        from ..image import read_image
        from ..roi import BoxROI
        from ..runner import run_case, write_run

        images = {name: read_image(path, f"{case.case_id} {name}") for name, path in case.sequences.items()}
        roi = BoxROI.from_ras_bounds(list(case.roi_ras)) if case.roi_ras else None
        if roi is not None:
            for name in ("t2", "t1ce"):  # as `run`: refuse an ROI outside the volumes before any work
                if name in images:
                    roi.voxel_box(images[name], f"{case.case_id} {name}")
        run = run_case(images, roi, tasks=self.settings.tasks, device=self.settings.device,
                       registry=self.registry, case_id=case.case_id)
        staging = staging_folder(out_dir, case.case_id)
        write_run(run, staging)
        publish(staging, out_dir, case.case_id)
        return run.result


_workers: dict[str, CaseWorker] = {}


def worker_for(settings: BatchSettings) -> CaseWorker:
    """This process's worker for `settings` (made on first use, so models load once a process)."""
    key = repr(sorted(asdict(settings).items()))
    if key not in _workers:
        _workers[key] = CaseWorker(settings)
    return _workers[key]
