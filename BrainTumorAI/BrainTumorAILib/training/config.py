"""Training settings: one dataclass, the four papers' presets, and JSON override files.

Settings a summary in SEEDS.md does not give keep the TrainingConfig defaults; each preset
names its source section. Task-specific knobs live in the free `model` and `loss` dicts,
which the task's adapter reads.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .augmentation import AUGMENTATIONS

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULERS = ("none", "plateau")
SAMPLERS = ("shuffle", "balanced_positive_fraction")
DEVICES = ("auto", "cpu", "cuda")
# Settings that may change when a run is resumed (train longer, move to another device).
RESUMABLE_CHANGES = ("epochs", "device", "num_workers")


@dataclass
class TrainingConfig:
    """Everything the shared trainer needs; validated on creation."""

    name: str = "custom"
    epochs: int = 50
    batch_size: int = 16
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0            # SGD and RMSprop only
    weight_decay: float = 0.0        # L2 penalty added to the gradient
    lr_scheduler: str = "none"       # "plateau": lr *= lr_factor after lr_patience epochs with no better score
    lr_factor: float = 0.5
    lr_patience: int = 3
    sampler: str = "shuffle"         # "balanced_positive_fraction": draw positives with probability positive_fraction
    positive_fraction: float = 0.5
    augmentations: list = field(default_factory=list)
    patch_size: list | None = None   # training patch (voxels) for patch-based tasks
    loss: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    pretrained: str | None = None    # local weights file the adapter loads before training
    freeze_backbone: bool = False
    folds: int = 5
    validation_fraction: float = 0.1  # of each fold's training patients, to pick the best epoch
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "folds", "lr_patience"):
            _check(_is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "a whole number >= 1")
        _check(self.folds >= 2, "folds", "at least 2")
        for name in ("seed", "num_workers"):
            _check(_is_int(getattr(self, name)) and getattr(self, name) >= 0, name, "a whole number >= 0")
        _check(_is_number(self.learning_rate) and self.learning_rate > 0, "learning_rate", "a number > 0")
        _check(_is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a number >= 0")
        _check(_is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)")
        for name in ("lr_factor", "positive_fraction"):
            _check(_is_number(getattr(self, name)) and 0 < getattr(self, name) < 1, name, "a number in (0, 1)")
        _check(_is_number(self.validation_fraction) and 0 < self.validation_fraction <= 0.5,
               "validation_fraction", "a number in (0, 0.5]")
        for name, choices in (("optimizer", OPTIMIZERS), ("lr_scheduler", LR_SCHEDULERS),
                              ("sampler", SAMPLERS), ("device", DEVICES)):
            _check(getattr(self, name) in choices, name, f"one of {', '.join(choices)}")
        _check(isinstance(self.augmentations, list) and set(self.augmentations) <= set(AUGMENTATIONS),
               "augmentations", f"a list drawn from {', '.join(AUGMENTATIONS)}")
        _check(self.patch_size is None or (isinstance(self.patch_size, list) and self.patch_size
                                           and all(_is_int(n) and n >= 1 for n in self.patch_size)),
               "patch_size", "null or a list of whole numbers >= 1")
        for name in ("loss", "model"):
            _check(isinstance(getattr(self, name), dict), name, "an object")
        _check(self.pretrained is None or isinstance(self.pretrained, str), "pretrained", "null or a file path")
        _check(isinstance(self.freeze_backbone, bool), "freeze_backbone", "true or false")
        _check(isinstance(self.name, str) and self.name, "name", "a non-empty string")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> dict:
        """The settings a resumed run must share with the run that wrote the checkpoint."""
        return {k: v for k, v in self.to_json().items() if k not in RESUMABLE_CHANGES}


# Overrides of the TrainingConfig defaults, one per source study (SEEDS.md).
PRESETS: dict[str, dict] = {
    # Shin 2021 (section A): 2D ResNet-50, ImageNet weights with convolutions frozen, FC head
    # fine-tuned. `pretrained` must point to a local torchvision ResNet-50 file (no download here);
    # input_size is ImageNet's 224 (the summary gives no slice size).
    "shin2021": dict(batch_size=64, optimizer="adam", learning_rate=1e-3, epochs=100, freeze_backbone=True,
                     model={"dropout": 0.5, "norm": "batch", "input_size": 224}),
    # Grøvik 2020 (section B): 2.5D slices (centre +/- 3, 256 x 256) of four sequences (28
    # channels; those the cases lack are left out and named), half of each batch with lesion,
    # positives weighted 10x in the sigmoid cross-entropy, converged in ~10 epochs; one network
    # trained on all development cases is deployed, no minimum lesion size.
    "grovik2020": dict(batch_size=32, sampler="balanced_positive_fraction", positive_fraction=0.5,
                       optimizer="adam", learning_rate=1e-3, weight_decay=1e-5, epochs=10,
                       augmentations=["flip", "rot90"], loss={"name": "bce", "pos_weight": 10.0},
                       model={"context_slices": 3, "image_size": 256, "inputs": ["t1ce", "t1", "flair", "t2"],
                              "ensemble": "single", "min_lesion_mm3": 0.0}),
    # Jünger 2021 (section C): DeepMedic on 25^3 patches, half centred on lesion, Dice loss,
    # RMSprop, lr halved after 3 epochs without improvement, 45^3 patches at inference.
    "junger2021": dict(batch_size=10, epochs=35, folds=5, patch_size=[25, 25, 25],
                       sampler="balanced_positive_fraction", positive_fraction=0.5, augmentations=["flip"],
                       optimizer="rmsprop", lr_scheduler="plateau", lr_factor=0.5, lr_patience=3,
                       loss={"name": "dice"}, model={"inference_patch_size": [45, 45, 45]}),
    # Chakrabarty 2021 (section D): 7-class 3D CNN with instance normalisation on one T1CE
    # volume; the summary gives no optimiser settings, so the defaults apply.
    "chakrabarty2021": dict(loss={"name": "cross_entropy"}, model={"num_classes": 7, "norm": "instance"}),
}


def load_config(preset_name: str, override_path=None) -> TrainingConfig:
    """The named preset, with the keys of a JSON override file replacing its values."""
    if preset_name not in PRESETS:
        raise InputError(f"unknown preset {preset_name!r} (choose from {', '.join(PRESETS)})")
    overrides = _read_overrides(Path(override_path)) if override_path else {}
    return TrainingConfig(**{**PRESETS[preset_name], "name": preset_name, **overrides})


def _read_overrides(path: Path) -> dict:
    if path.suffix.lower() != ".json":
        raise InputError(f"training config {path.name}: expected a .json file")
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"training config {path}: cannot read JSON ({error})") from None
    if not isinstance(overrides, dict):
        raise InputError(f"training config {path.name}: expected a JSON object of settings")
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"training config {path.name}: unknown key(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(known))})")
    return overrides


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(condition, name: str, expected: str) -> None:
    if not condition:
        raise InputError(f"training config: {name} must be {expected}")
