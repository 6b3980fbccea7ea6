"""The shared trainer: any TaskAdapter, one fold, seeded, resumable, single- or multi-process."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from monai.utils import set_determinism
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ..errors import InputError
from ..models.atomic import write_json
from ..progress import NullProgress
from .adapter import TaskAdapter
from .cases import Case
from .checkpoint import BEST_WEIGHTS, TrainingState, fingerprint, load_last, save_best, save_last
from .config import TrainingConfig
from .distributed import DistributedContext, derived_seed, distributed_context
from .loaders import eval_loader, train_loader

HISTORY_FILE = "history.json"


@dataclass
class FoldResult:
    """A trained fold. `sha256` of the best weights is known on the main process only."""

    fold: int
    best_epoch: int
    best_score: float
    weights: Path
    sha256: str | None
    history: list[dict]


def fold_dir(out_dir, fold: int) -> Path:
    return Path(out_dir) / f"fold_{fold}"


def build_optimizer(parameters, config: TrainingConfig) -> torch.optim.Optimizer:
    """Adam (Shin 2021, Grøvik 2020), RMSprop (Jünger 2021) or SGD; weight decay is an L2 penalty."""
    common = dict(lr=config.learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, **common)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, momentum=config.momentum, **common)
    return torch.optim.SGD(parameters, momentum=config.momentum, **common)


def build_scheduler(optimizer, config: TrainingConfig):
    """Plateau: multiply the lr by lr_factor once lr_patience epochs in a row brought no better
    validation score (Jünger 2021: halved after 3 epochs without improvement)."""
    if config.lr_scheduler == "plateau":
        # torch counts the epochs it tolerates, so it acts on epoch patience + 1 without improvement.
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=config.lr_factor,
                                                          patience=config.lr_patience - 1)
    return None


def stop_early(state: TrainingState, config: TrainingConfig) -> bool:
    """Early stopping: `early_stopping_patience` epochs in a row without a better validation
    score (on the validation split of the fold's own training patients)."""
    patience = config.early_stopping_patience
    return bool(patience) and state.best_epoch is not None and state.epoch - state.best_epoch >= patience


class Trainer:
    """Train one fold of a task: validation every epoch, best and last checkpoints, history.

    Under `torchrun` every rank calls `fit` with the same arguments; gradients are averaged by
    DistributedDataParallel, losses and validation outputs are gathered so all ranks take the
    same decisions, and only rank 0 writes files.
    """

    def __init__(self, adapter: TaskAdapter, config: TrainingConfig, out_dir, progress=None):
        self.adapter, self.config, self.out_dir = adapter, config, Path(out_dir)
        self.progress = progress or NullProgress()
        self.model: torch.nn.Module | None = None

    def fit(self, train_cases: list[Case], val_cases: list[Case], fold: int = 0) -> FoldResult:
        """Train (or resume) fold `fold`; `self.model` holds the last epoch's network afterwards."""
        if not train_cases or not val_cases:
            raise InputError(f"fold {fold}: training and validation cases are both needed")
        config, directory = self.config, fold_dir(self.out_dir, fold)
        with distributed_context(config.device) as ctx:
            progress = self.progress if ctx.is_main else NullProgress()
            set_determinism(seed=derived_seed(config.seed, fold))  # the same initial weights on every rank
            model = self.adapter.build_model(config).to(ctx.device)
            loss_function = self.adapter.loss_function(config).to(ctx.device)
            optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], config)
            scheduler = build_scheduler(optimizer, config)
            key = fingerprint(config.fingerprint(), [c.case_id for c in train_cases], [c.case_id for c in val_cases])
            state = load_last(directory, model, optimizer, scheduler, key) or TrainingState(fingerprint=key)
            train_set = self.adapter.dataset(train_cases, config, train=True)
            val_set = self.adapter.dataset(val_cases, config, train=False)
            network = DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda"
                                              else None) if ctx.distributed else model
            for epoch in range(state.epoch + 1, config.epochs + 1):
                if stop_early(state, config):
                    break
                # Dropout and augmentation draw from streams fixed by (seed, fold, epoch, rank):
                # resuming at any epoch repeats the uninterrupted run.
                set_determinism(seed=derived_seed(config.seed, fold, epoch, ctx.rank))
                train_loss = self._train_epoch(network, loss_function, optimizer, train_set, ctx, fold, epoch)
                ctx.share_buffers(model)
                val_loss, score = self._validate(network, loss_function, val_set, ctx)
                if scheduler is not None:
                    scheduler.step(score)
                state.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                                      "val_score": score, "lr": optimizer.param_groups[0]["lr"]})
                improved = state.best_epoch is None or score > state.best_score
                if improved:
                    state.best_epoch, state.best_score = epoch, score
                state.epoch = epoch
                if ctx.is_main:
                    self._write(directory, model, optimizer, scheduler, state, improved, fold)
                progress.update(f"training fold {fold}", epoch / config.epochs,
                                f"epoch {epoch}/{config.epochs}: loss {train_loss:.4f}, "
                                f"validation loss {val_loss:.4f}, score {score:.4f}")
            ctx.barrier()
        self.model = model
        return FoldResult(fold=fold, best_epoch=state.best_epoch, best_score=state.best_score,
                          weights=directory / BEST_WEIGHTS, sha256=state.best_sha256, history=state.history)

    def _train_epoch(self, network, loss_function, optimizer, dataset, ctx: DistributedContext,
                     fold: int, epoch: int) -> float:
        network.train()
        loader = train_loader(dataset, self.config, ctx, fold, epoch)
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"fold {fold} epoch {epoch}/{self.config.epochs}", leave=False,
                   file=sys.stderr, disable=True if not ctx.is_main else None)
        for batch in bar:
            inputs, targets = batch["input"].to(ctx.device), batch["target"].to(ctx.device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(network(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(inputs)
            count += len(inputs)
            bar.set_postfix(loss=f"{loss.item():.4f}")
        total, count = ctx.sum([total, count])
        if count == 0:
            raise InputError(f"fold {fold}: the training cases gave no samples")
        mean = total / count
        if not math.isfinite(mean):
            raise InputError(f"fold {fold} epoch {epoch}: training diverged (loss {mean}); lower learning_rate")
        return mean

    def _validate(self, network, loss_function, dataset, ctx: DistributedContext) -> tuple[float, float]:
        """Mean loss and the adapter's score over the whole validation set, identical on every rank."""
        network.eval()
        outputs, targets = [], []
        loss_sum, seen, real_rows = 0.0, 0, ctx.shard_size(len(dataset))
        with torch.no_grad():
            for batch in eval_loader(dataset, self.config, ctx):
                inputs, target = batch["input"].to(ctx.device), batch["target"].to(ctx.device)
                output = network(inputs)
                # Rows past `real_rows` repeat samples to even out the ranks: not counted twice.
                keep = min(max(real_rows - seen, 0), len(inputs))
                seen += len(inputs)
                if keep:
                    loss_sum += float(loss_function(output[:keep], target[:keep])) * keep
                outputs.append(output.float().cpu())
                targets.append(target.cpu())
        loss_sum, count = ctx.sum([loss_sum, min(seen, real_rows)])
        outputs = ctx.gather_in_order(torch.cat(outputs), len(dataset))
        targets = ctx.gather_in_order(torch.cat(targets), len(dataset))
        return loss_sum / count, float(self.adapter.validation_score(outputs, targets))

    def _write(self, directory: Path, model, optimizer, scheduler, state: TrainingState, improved: bool,
               fold: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if improved:
            state.best_sha256 = save_best(directory, model, {
                "task": self.adapter.task, "preset": self.config.name, "fold": fold,
                "epoch": state.best_epoch, "validation_score": state.best_score})
        save_last(directory, model, optimizer, scheduler, state)
        write_json(directory / HISTORY_FILE, state.history)
