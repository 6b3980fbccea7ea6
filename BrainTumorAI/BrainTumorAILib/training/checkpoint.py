"""A fold's checkpoints: the best weights (safetensors) and a resumable `last` state.

`last` is a weights file named by its epoch plus `last_state.pt` (optimizer, scheduler,
epoch, best so far, history; plain containers read with torch.load(weights_only=True))
that names that file and its SHA-256. The state is written after the weights and the older
weights removed after the state, so an interruption at any point leaves a consistent pair.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import InputError
from ..models.atomic import atomic_path
from ..models.weights import load_plain_torch_file, load_weights, save_weights
from .config import RESUMABLE_CHANGES, RESUMABLE_MODEL_CHANGES

BEST_WEIGHTS = "best.safetensors"
LAST_STATE = "last_state.pt"


@dataclass
class TrainingState:
    """Where a fold's training stands after `epoch` completed epochs (0: not started)."""

    fingerprint: str
    epoch: int = 0
    best_epoch: int | None = None
    best_score: float | None = None
    best_sha256: str | None = None
    history: list[dict] = field(default_factory=list)


def fingerprint(config_fingerprint: dict, train_ids: list[str], val_ids: list[str]) -> str:
    """What must not change between a run and its resumption: settings and the split."""
    return json.dumps({"config": config_fingerprint, "train": sorted(train_ids), "validation": sorted(val_ids)},
                      sort_keys=True)


def _settings_that_must_match(fingerprint_text: str) -> dict:
    """A stored fingerprint less the settings a resumption may change: checkpoints written before
    a setting became resumable still carry it."""
    stored = json.loads(fingerprint_text)
    config = {k: v for k, v in stored["config"].items() if k not in RESUMABLE_CHANGES}
    config["model"] = {k: v for k, v in config.get("model", {}).items() if k not in RESUMABLE_MODEL_CHANGES}
    return {**stored, "config": config}


def save_best(fold_dir: Path, model: torch.nn.Module, metadata: dict) -> str:
    return save_weights(model, fold_dir / BEST_WEIGHTS, metadata)


def save_last(fold_dir: Path, model, optimizer, scheduler, state: TrainingState) -> None:
    previous = _read_state(fold_dir / LAST_STATE)
    weights_name = f"last_epoch{state.epoch:04d}.safetensors"
    weights_sha256 = save_weights(model, fold_dir / weights_name, {"epoch": state.epoch})
    payload = {
        "fingerprint": state.fingerprint, "epoch": state.epoch, "best_epoch": state.best_epoch,
        "best_score": state.best_score, "best_sha256": state.best_sha256, "history": state.history,
        "weights": weights_name, "weights_sha256": weights_sha256,
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
    }
    with atomic_path(fold_dir / LAST_STATE) as tmp:
        torch.save(payload, tmp)
    if previous and previous["weights"] != weights_name:
        (fold_dir / previous["weights"]).unlink(missing_ok=True)


def load_last(fold_dir: Path, model, optimizer, scheduler, expected_fingerprint: str) -> TrainingState | None:
    """Restore model, optimizer and scheduler from `last`; None when the fold has not started."""
    payload = _read_state(fold_dir / LAST_STATE)
    if payload is None:
        return None
    if _settings_that_must_match(payload["fingerprint"]) != _settings_that_must_match(expected_fingerprint):
        raise InputError(f"{fold_dir} holds a run with other settings or other cases; "
                         f"resume with the same ones (only {', '.join(RESUMABLE_CHANGES)} and model."
                         f"{', model.'.join(RESUMABLE_MODEL_CHANGES)} may change) or choose a new output folder")
    load_weights(model, fold_dir / payload["weights"], payload["weights_sha256"])
    optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    return TrainingState(fingerprint=expected_fingerprint, epoch=payload["epoch"],
                         best_epoch=payload["best_epoch"], best_score=payload["best_score"],
                         best_sha256=payload["best_sha256"], history=payload["history"])


def _read_state(path: Path) -> dict | None:
    if not path.is_file():
        return None
    state = load_plain_torch_file(path, f"checkpoint {path}")
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise InputError(f"checkpoint {path}: not a BrainTumorAI training state")
    return state
