"""One thread budget for torch, ITK and OpenMP/BLAS, set once per process.

Each library otherwise starts as many threads as the machine has cores, and a run uses torch
(its OpenMP pool), ITK and NumPy's BLAS in turn: two runs side by side on two cores then keep
eight busy threads on two cores, and spinning OpenMP workers take the CPU from the ones doing
the work. `configure_threads` is called at the start of the command line and by every batch
worker, before any heavy work: it writes the environment variables the libraries read when
they start (effective for those not yet imported, and inherited by child processes), then sets
torch's and ITK's pools directly. OpenMP workers that wait sleep instead of spinning
(OMP_WAIT_POLICY=PASSIVE unless the user set it), so a shared machine is not burnt on waiting.
"""

from __future__ import annotations

import os

# Read once by OpenMP (torch's intra-op pool), MKL, OpenBLAS and ITK when they load.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a cluster scheduler may limit)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def configure_threads(threads: int | None = None) -> int:
    """Use `threads` threads (default: every available core) in torch, ITK and OpenMP; returns it."""
    threads = available_cores() if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import SimpleITK as sitk
    import torch

    torch.set_num_threads(threads)
    try:
        # torch allows this once, before its first inter-op work; later calls keep the first value
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    return threads
