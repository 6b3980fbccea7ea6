"""Independent ITK steps side by side, each on one ITK thread."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import SimpleITK as sitk

from .registration import itk_threads


@contextmanager
def itk_step_pool(n_steps: int) -> Iterator[ThreadPoolExecutor]:
    """A pool that runs as many of `n_steps` steps at once as ITK's thread budget allows, each on
    one ITK thread. SimpleITK releases Python's lock while it works, so the steps share the
    cores; one thread per step also keeps each step's sums in a fixed order (see registration.py).
    Steps not started when the block is left early (Ctrl-C, a stage timeout) are dropped."""
    workers = max(1, min(sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(), n_steps))
    pool = ThreadPoolExecutor(workers)
    try:
        with itk_threads(1):
            yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
