"""Data loaders whose order and augmentation depend only on (seed, fold, epoch, rank).

That is what makes a resumed run repeat an uninterrupted one and lets each rank of a
distributed job see its own share of the data.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from monai.data import DataLoader
from torch.utils.data import DistributedSampler, WeightedRandomSampler

from ..errors import InputError
from .config import TrainingConfig
from .distributed import DistributedContext, derived_seed


def train_loader(dataset, config: TrainingConfig, ctx: DistributedContext, fold: int, epoch: int) -> DataLoader:
    """Shuffled (or lesion-balanced) batches of this rank's share for one epoch."""
    if config.sampler == "balanced_positive_fraction":
        sampler = _balanced_sampler(dataset, config, ctx, derived_seed(config.seed, fold, epoch, ctx.rank))
    else:
        sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                     seed=derived_seed(config.seed, fold))
        sampler.set_epoch(epoch)
    # A last batch of one sample breaks batch-norm in training mode; the epoch reshuffles anyway.
    return _loader(dataset, config, ctx, sampler, derived_seed(config.seed, fold, epoch, ctx.rank),
                   drop_last=len(sampler) > config.batch_size)


def eval_loader(dataset, config: TrainingConfig, ctx: DistributedContext) -> DataLoader:
    """Every sample once, in order, striped over the ranks (see DistributedContext.gather_in_order)."""
    sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=False)
    return _loader(dataset, config, ctx, sampler, derived_seed(config.seed), drop_last=False)


def _loader(dataset, config, ctx, sampler, seed: int, drop_last: bool) -> DataLoader:
    # An explicit generator: MONAI's loader seeds the dataset's random transforms from it (and
    # would otherwise draw from, then rewind, the global torch generator).
    return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=config.num_workers, pin_memory=ctx.device.type == "cuda",
                      generator=torch.Generator().manual_seed(seed))


def _balanced_sampler(dataset, config: TrainingConfig, ctx: DistributedContext, seed: int) -> WeightedRandomSampler:
    """Draw with replacement so that a sample is positive with probability `positive_fraction`
    (Grøvik 2020: half of each batch from slices with lesion; Jünger 2021: half the patches
    centred on lesion). The dataset says which samples are positive via `positive_flags()`."""
    if not hasattr(dataset, "positive_flags"):
        raise TypeError(f"sampler balanced_positive_fraction needs {type(dataset).__name__}.positive_flags()")
    positive = np.asarray(dataset.positive_flags(), dtype=bool)
    n_positive = int(positive.sum())
    if n_positive in (0, len(positive)):
        raise InputError(f"sampler balanced_positive_fraction: the training set has {n_positive} positive "
                         f"and {len(positive) - n_positive} negative samples; both kinds are needed")
    fraction = config.positive_fraction
    weights = np.where(positive, fraction / n_positive, (1 - fraction) / (len(positive) - n_positive))
    return WeightedRandomSampler(weights.tolist(), num_samples=math.ceil(len(positive) / ctx.world_size),
                                 replacement=True, generator=torch.Generator().manual_seed(seed))
