"""The run report: `training_report.json` beside per-fold loss curves (the task adds its plots)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from ..metrics.plots import plot_loss_curves
from ..models.atomic import write_json
from .cases import Case
from .config import TrainingConfig
from .trainer import FoldResult

REPORT_FILE = "training_report.json"
MODEL_SET_FILE = "model_set.json"
LOSS_PLOT = "loss_curves.png"


def plot_fold_losses(result: FoldResult, directory: Path) -> Path:
    """Training and validation loss per epoch, the best epoch in the title."""
    series = {"train": [h["train_loss"] for h in result.history], "validation": [h["val_loss"] for h in result.history]}
    return plot_loss_curves(series, directory / LOSS_PLOT,
                            title=f"fold {result.fold}: best epoch {result.best_epoch} (score {result.best_score:.3f})")


def weight_file_entry(result: FoldResult, out_dir: Path) -> dict:
    """A registry `weightFile`: path relative to the run folder, SHA-256 and size."""
    return {"path": result.weights.relative_to(out_dir).as_posix(), "sha256": result.sha256,
            "size": result.weights.stat().st_size}


def write_report(out_dir: Path, task: str, config: TrainingConfig, cases: list[Case], splits: list[dict],
                 results: list[FoldResult], metrics: dict, model_set: dict, world_size: int) -> dict:
    """Write training_report.json and model_set.json; returns the report."""
    report = {
        "task": task,
        "config": config.to_json(),
        "data": {"n_cases": len(cases), "n_patients": len({c.patient_id for c in cases}),
                 "labels": dict(Counter(str(c.label) for c in cases))},
        "folds": [{**split, "best_epoch": r.best_epoch, "best_validation_score": r.best_score,
                   "weights": weight_file_entry(r, out_dir),
                   "loss_plot": (r.weights.parent / LOSS_PLOT).relative_to(out_dir).as_posix(),
                   "history": r.history} for split, r in zip(splits, results)],
        "metrics": metrics,
        "model_set": model_set,
        "environment": {"torch": torch.__version__, "world_size": world_size},
    }
    write_json(out_dir / MODEL_SET_FILE, model_set)
    write_json(out_dir / REPORT_FILE, report)
    return report
