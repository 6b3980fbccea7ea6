"""The batch on a Ray cluster: one Ray task per case, its resources declared, retried elsewhere
when its worker dies.

Every node must have BrainTumorAI installed (or on its PYTHONPATH) and see the output folder
(a shared file system). Each Ray worker process keeps one `CaseWorker`, so a worker that runs
several cases loads each model set once. A task writes `<out>/<case>/` itself, through a staging
folder renamed into place (`layout`), so a retried case never writes twice into one output;
the driver only collects the summary rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import InputError
from .manifest import CohortCase
from .summary import failed_row
from .worker import BatchSettings, error_line, worker_for


@dataclass(frozen=True)
class RayResources:
    """What each case's Ray task asks the scheduler for, and how often it is retried when its
    worker process or node dies (Ray's `max_retries`; a Python error in the case is not retried)."""

    cpus: float = 1.0
    gpus: float = 0.0
    max_retries: int = 3


def batch_case(case: CohortCase, out_dir: str, settings: BatchSettings) -> dict:
    """One case in a Ray worker process (its title reads `ray::batch_case` while it runs)."""
    return worker_for(settings).run(case, Path(out_dir))


def _check_feasible(nodes: list[dict], resources: RayResources) -> None:
    """Refuse a request no node can meet (Ray would otherwise hold the tasks forever)."""
    for node in nodes:
        offered = node.get("Resources", {})
        if node.get("Alive") and offered.get("CPU", 0) >= resources.cpus and offered.get("GPU", 0) >= resources.gpus:
            return
    raise InputError(f"no node of the Ray cluster offers {resources.cpus:g} CPUs and {resources.gpus:g} GPUs "
                     "for one case (see --cpus-per-case, --gpus-per-case)")


def run_on_ray(cases: list[CohortCase], out_dir: Path, settings: BatchSettings, address: str,
               resources: RayResources, on_row: Callable[[dict], None]) -> None:
    """Submit every case to the cluster at `address` ("auto": the one this machine belongs to)."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'ray>=2.9' (on every node)") from None
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster ({error_line(error)})") from None
    try:
        _check_feasible(ray.nodes(), resources)
        task = ray.remote(batch_case).options(num_cpus=resources.cpus, num_gpus=resources.gpus,
                                              max_retries=resources.max_retries, retry_exceptions=False)
        pending = {task.remote(case, str(out_dir), settings): case for case in cases}
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            case = pending.pop(ready)
            try:
                row = ray.get(ready)
            except ray.exceptions.RayError as error:  # the case's retries ran out (its workers died)
                row = failed_row(case.case_id, error_line(error).splitlines()[0][:500], 0.0)
            on_row(row)
    finally:
        ray.shutdown()
