"""torch.distributed for the trainer: one process per device, launched by `torchrun`.

`torchrun --nproc_per_node N [--nnodes M ...] -m BrainTumorAILib train ...` sets RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address; a plain `python` run is a world of one
and needs no process group. Output folders must be on storage every node sees (resume reads
the checkpoint on every rank; only rank 0 writes).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InputError


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job and the collectives the trainer needs."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def shard_size(self, n_samples: int) -> int:
        """Real (not padding) samples this rank gets from DistributedSampler(shuffle=False)."""
        return len(range(self.rank, n_samples, self.world_size))

    def share_buffers(self, model: torch.nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) to every rank, so that the
        network that validates on each rank is the one rank 0 saves."""
        if self.distributed:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of `values` over all processes."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather_in_order(self, tensor: torch.Tensor, n_samples: int) -> torch.Tensor:
        """Undo DistributedSampler(shuffle=False)'s striping: rank r held samples r, r + W, ...

        Every rank holds the same number of rows (the sampler pads by repeating the first
        samples); the result is the dataset's samples in order, padding removed, on the CPU.
        """
        if not self.distributed:
            return tensor[:n_samples].cpu()
        local = tensor.to(self.device).contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        interleaved = torch.stack(parts, dim=1).reshape(-1, *local.shape[1:])
        return interleaved[:n_samples].cpu()


def pick_device(setting: str, local_rank: int = 0) -> torch.device:
    """`auto`: this process's GPU when CUDA is present, else the CPU."""
    if setting == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda requested but no CUDA GPU is available")
    if setting in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device("cpu")


@contextlib.contextmanager
def distributed_context(device_setting: str = "auto"):
    """Join the torchrun job when WORLD_SIZE > 1 (gloo on CPU, NCCL on GPUs) and leave it after.

    Re-entrant: inside an already initialised process group it only describes it.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_setting, int(os.environ.get("LOCAL_RANK", "0")))
    created = False
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        created = True
    joined = dist.is_initialized()
    try:
        yield DistributedContext(rank=dist.get_rank() if joined else 0,
                                 world_size=dist.get_world_size() if joined else 1, device=device)
    except BaseException:
        if created:  # no barrier here: ranks still in a collective would wait for this one forever
            dist.destroy_process_group()
        raise
    if created:
        _leave_together()


def _leave_together() -> None:
    """Destroy the process group on every rank, rank 0's last.

    A rank that leaves while another still works (rank 0 writes the report) tore gloo's
    connections down under it: the other rank aborted ("terminate called without an active
    exception") about one run in four on a loaded 2-core machine, hence the barrier. A rank
    still aborted that way, rarely, after the barrier with all its work written (once in a
    test run; not in 25 loaded runs of the test alone): the ranks tore their connections down in
    any order. torch has no ordered shutdown, so the other ranks say through the rendezvous store
    (which outlives the group) that theirs is gone before rank 0's goes.
    """
    dist.barrier()
    store, rank, world_size = dist.distributed_c10d._get_default_store(), dist.get_rank(), dist.get_world_size()
    if rank == 0:
        store.wait([f"braintumorai/left/{other}" for other in range(1, world_size)])
        dist.destroy_process_group()
    else:
        dist.destroy_process_group()
        store.set(f"braintumorai/left/{rank}", "1")


def derived_seed(*keys: int) -> int:
    """An independent 32-bit seed for each (run seed, fold, epoch, rank...) combination."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])
