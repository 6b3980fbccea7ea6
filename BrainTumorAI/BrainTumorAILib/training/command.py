"""`braintumorai train`: index the data, load the preset, cross-validate, report."""

from __future__ import annotations

import dataclasses

from .cases import index_cases
from .config import check_trainable, load_config
from .kfold import run_kfold
from .task_adapters import create_adapter


def train_command(task: str, data, out, preset: str | None = None, folds: int | None = None,
                  config_path=None, progress=None) -> dict | None:
    """Train `task` on a case folder or CSV manifest into `out` (resumes a run already there).

    `preset` defaults to the task's paper preset; `folds` overrides the preset's fold count.
    Returns training_report.json's content (None on non-main ranks under torchrun).
    """
    adapter = create_adapter(task)
    config = load_config(preset or adapter.default_preset, config_path)
    if folds is not None:
        config = dataclasses.replace(config, folds=folds)
    check_trainable(config)  # before the (slow) indexing and preprocessing
    cases = index_cases(data, label_key=adapter.truth_label_key)
    return run_kfold(adapter, cases, config, out, progress=progress)
