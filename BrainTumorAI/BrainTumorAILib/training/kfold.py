"""k-fold cross-validation of a task: one model per fold, pooled held-out evaluation, a model set.

Each fold's model picks its best epoch on a validation split of its own training patients,
so the held-out predictions that the metrics pool were never used for any choice.
"""

from __future__ import annotations

from pathlib import Path

from ..models.atomic import write_json
from ..models.weights import load_weights
from ..progress import NullProgress
from ..quality.reference import reference_statistics
from .adapter import TaskAdapter
from .cases import Case
from .config import TrainingConfig, check_trainable
from .distributed import derived_seed, distributed_context
from .folds import patient_folds, validation_split
from .report import plot_fold_losses, weight_file_entry, write_report
from .trainer import FoldResult, Trainer, fold_dir

CACHE_DIR = "cache"
PREDICTIONS_FILE = "predictions.json"


def run_kfold(adapter: TaskAdapter, cases: list[Case], config: TrainingConfig, out_dir,
              progress=None) -> dict | None:
    """Train `config.folds` models and evaluate them on their held-out patients.

    Writes into `out_dir`: cache/ (the adapter's preprocessing), fold_<k>/ (checkpoints,
    history, loss curves, held-out predictions), the task's plots, training_report.json and
    model_set.json. Rerunning with the same arguments resumes. Returns the report on the
    main process and None on the other ranks of a distributed job.
    """
    out_dir = Path(out_dir)
    check_trainable(config)
    adapter.check_config(config)
    with distributed_context(config.device) as ctx:
        progress = (progress or NullProgress()) if ctx.is_main else NullProgress()
        folds = patient_folds(cases, config.folds, config.seed)
        _prepare(adapter, cases, out_dir / CACHE_DIR, ctx, progress.child(0.0, 0.1))
        splits, results, pooled = [], [], {}
        span = 0.85 / config.folds
        for k, held_out in enumerate(folds):
            held_ids = {c.case_id for c in held_out}
            train, val = validation_split([c for c in cases if c.case_id not in held_ids],
                                          config.validation_fraction, derived_seed(config.seed, k))
            trainer = Trainer(adapter, config, out_dir, progress.child(0.1 + k * span, 0.1 + (k + 1) * span))
            result = trainer.fit(train, val, fold=k)
            split = {"fold": k, "test": sorted(held_ids), "train": [c.case_id for c in train],
                     "validation": [c.case_id for c in val]}
            if ctx.is_main:
                pooled.update(_predict_held_out(adapter, config, result, held_out, ctx.device))
                if adapter.needs_validation_predictions:  # e.g. a cut-off fitted inside the training folds
                    split["validation_predictions"] = _predict(adapter, config, result, val, ctx.device)
                plot_fold_losses(result, fold_dir(out_dir, k))
            splits.append(split)
            results.append(result)
        deployed = results
        if adapter.deploys_single_network(config):  # e.g. Grøvik 2020: one network on all development cases
            train, val = validation_split(cases, config.validation_fraction, derived_seed(config.seed, config.folds))
            final = Trainer(adapter, config, out_dir, progress.child(0.9, 0.95)).fit(train, val, fold=config.folds)
            if ctx.is_main:
                plot_fold_losses(final, fold_dir(out_dir, config.folds))  # its learning curve beside the folds'
            deployed = [final]
        report = None
        if ctx.is_main:
            progress.update("evaluating", 0.95, "pooled held-out predictions")
            metrics = adapter.summarise_folds(pooled, cases, out_dir, splits, config)
            model_set = {"task": adapter.task, **adapter.model_set_entry(config),
                         "folds": [weight_file_entry(r, out_dir) for r in deployed]}
            progress.update("evaluating", 0.97, "input statistics of the training cases (for run-time checks)")
            statistics = reference_statistics(cases, model_set["inputs"])
            if statistics is not None:
                model_set["input_statistics"] = statistics
            report = write_report(out_dir, adapter.task, config, cases, splits, results, metrics, model_set,
                                  ctx.world_size)
            progress.update("done", 1.0, f"training report in {out_dir}")
        ctx.barrier()
    return report


def _prepare(adapter: TaskAdapter, cases: list[Case], cache_dir: Path, ctx, progress) -> None:
    """Rank 0 preprocesses; the other ranks then call prepare too and find the cache filled
    (prepare must reuse what `cache_dir` already holds)."""
    if ctx.is_main:
        adapter.prepare(cases, cache_dir, progress=progress)
    ctx.barrier()
    if not ctx.is_main:
        adapter.prepare(cases, cache_dir, progress=NullProgress())


def _predict_held_out(adapter: TaskAdapter, config: TrainingConfig, result: FoldResult, held_out: list[Case],
                      device) -> dict[str, dict]:
    """The fold's best model on its held-out cases; also saved beside the fold's checkpoints."""
    predictions = _predict(adapter, config, result, held_out, device)
    write_json(result.weights.parent / PREDICTIONS_FILE, predictions)
    return predictions


def _predict(adapter: TaskAdapter, config: TrainingConfig, result: FoldResult, cases: list[Case],
             device) -> dict[str, dict]:
    """The fold's best model on some cases."""
    model = load_weights(adapter.build_model(config), result.weights, result.sha256).to(device).eval()
    return adapter.predict_cases([model], cases, config)
