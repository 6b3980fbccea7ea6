"""A whole synthetic cohort in one call: `n_per_kind` cases of each kind, seeds derived from one."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from ..progress import NullProgress
from .case import make_case
from .kinds import KINDS


def cohort_seeds(seed: int, n_per_kind: int) -> list:
    """Case seeds of a cohort: seed * n_per_kind + 0..n-1 (cohorts with other seeds never share one)."""
    return [seed * n_per_kind + i for i in range(n_per_kind)]


def make_cohort(out_dir, kinds=None, n_per_kind: int = 1, seed: int = 0, voxel_mm: float = 1.0,
                progress=None, variants: list | None = None, workers: int = 1) -> list:
    """Write `n_per_kind` cases of each kind (all kinds by default) into `out_dir`; return their folders.

    `variants` (acquisition variants, see make_case): case i of each kind gets `variants[i % len]`,
    so a training cohort meets other planes and slice profiles than the default protocol's.
    `workers` > 1 makes cases in that many processes; each case depends only on its own seed,
    so the cohort is the same either way."""
    kinds = list(KINDS if kinds is None else kinds)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown kind(s) {', '.join(map(repr, unknown))}; choose from {', '.join(KINDS)}")
    if n_per_kind < 1:
        raise ValueError(f"n_per_kind must be at least 1, got {n_per_kind}")
    progress = progress or NullProgress()
    variants = variants or [None]
    jobs = [(kind, case_seed, variants[index % len(variants)])
            for index, case_seed in enumerate(cohort_seeds(seed, n_per_kind)) for kind in kinds]
    folders = []
    if workers <= 1:
        for done, (kind, case_seed, variant) in enumerate(jobs):
            progress.update("synth", done / len(jobs), f"{kind} seed {case_seed}")
            folders.append(make_case(Path(out_dir), kind, case_seed, voxel_mm, variant))
    else:
        # spawn, not fork: the parent may hold torch's and ITK's thread pools
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(make_case, Path(out_dir), kind, case_seed, voxel_mm, variant)
                       for kind, case_seed, variant in jobs]
            for done, future in enumerate(futures):
                folders.append(future.result())
                progress.update("synth", (done + 1) / len(jobs), folders[-1].name)
    progress.update("synth", 1.0, f"{len(folders)} cases")
    return folders


COMPLETE_MARK = ".complete"  # holds the recipe a finished cohort folder was made from


def cohort_once(out_dir, recipe: dict, make: Callable[[Path], object], mark: Path | None = None) -> Path:
    """`out_dir` made by `make(out_dir)` for `recipe` (JSON-ready), or reused when a finished one
    of the same recipe is there; a folder of another recipe, or unfinished, is replaced whole, so
    cases of two recipes never mix. The recipe is kept in `mark` (default: inside the folder)."""
    out_dir = Path(out_dir)
    mark, text = Path(mark) if mark else out_dir / COMPLETE_MARK, json.dumps(recipe, sort_keys=True)
    if mark.is_file() and mark.read_text() == text:
        return out_dir
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    make(out_dir)
    mark.write_text(text)
    return out_dir
