"""Training settings: one dataclass, the presets (each task's spec carries its paper's), and JSON
override files.

Settings a paper does not give keep the TrainingConfig defaults. Task-specific knobs live in the
free `model` and `loss` dicts, which the task's adapter reads.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog import DEVICES, presets
from ..errors import InputError
from .augmentation import AUGMENTATIONS

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULERS = ("none", "plateau")
SAMPLERS = ("shuffle", "balanced_positive_fraction")
# Settings that may change when a run is resumed (train longer, move to another device).
RESUMABLE_CHANGES = ("epochs", "device", "num_workers", "cutoff", "extent_threshold", "lesion_peak_max_fp")
# `model` keys read only after training (mets-25d's threshold rule on the held-out predictions)
RESUMABLE_MODEL_CHANGES = ("threshold_rule", "max_fp_per_case")
CUTOFFS = ("paper", "fitted")
FINETUNE_PRESET = "shin2021-finetune"


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
    freeze_backbone: bool = False    # needs `pretrained`: a frozen random backbone learns nothing
    cutoff: str = "paper"            # decision threshold: the paper's, or "fitted" inside the training folds
    # segmentation tasks: how far each lesion found at the threshold reaches (hysteresis; null: the threshold)
    extent_threshold: float | None = None
    # segmentation tasks: a lesion must peak at the lowest probability keeping at most this many false
    # lesions per held-out case (null: every lesion the threshold or vote makes counts)
    lesion_peak_max_fp: float | None = None
    early_stopping_patience: int = 0  # stop a fold after this many epochs without a better validation score (0: never)
    folds: int = 5
    validation_fraction: float = 0.1  # of each fold's training patients, to pick the best epoch
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "folds", "lr_patience"):
            _check(_is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "a whole number >= 1")
        _check(self.folds >= 2, "folds", "at least 2")
        for name in ("seed", "num_workers", "early_stopping_patience"):
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
        _check(self.cutoff in CUTOFFS, "cutoff", f"one of {', '.join(CUTOFFS)}")
        _check(self.extent_threshold is None or (_is_number(self.extent_threshold) and 0 < self.extent_threshold < 1),
               "extent_threshold", "null or a number in (0, 1)")
        peak_rule = self.lesion_peak_max_fp
        _check(peak_rule is None or (_is_number(peak_rule) and peak_rule >= 0), "lesion_peak_max_fp",
               "null or a number >= 0")
        _check(isinstance(self.name, str) and self.name, "name", "a non-empty string")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> dict:
        """The settings a resumed run must share with the run that wrote the checkpoint."""
        settings = {k: v for k, v in self.to_json().items() if k not in RESUMABLE_CHANGES}
        settings["model"] = {k: v for k, v in settings["model"].items() if k not in RESUMABLE_MODEL_CHANGES}
        return settings


def load_config(preset_name: str, override_path=None) -> TrainingConfig:
    """The named preset, with the keys of a JSON override file replacing its values."""
    known = presets()
    if preset_name not in known:
        raise InputError(f"unknown preset {preset_name!r} (choose from {', '.join(known)})")
    overrides = _read_overrides(Path(override_path)) if override_path else {}
    return TrainingConfig(**{**known[preset_name], "name": preset_name, **overrides})


def check_trainable(config: TrainingConfig) -> None:
    """Refuse settings that cannot train: a frozen backbone without the pretrained file."""
    if config.freeze_backbone and not config.pretrained:
        raise InputError(f"training config {config.name}: freeze_backbone needs ImageNet weights - set \"pretrained\" "
                         f"to a local torchvision ResNet-50 file with --config, or train the whole network "
                         f"with --preset {FINETUNE_PRESET}")
    if config.pretrained and not Path(config.pretrained).is_file():
        raise InputError(f"training config {config.name}: pretrained weights file not found: {config.pretrained}")


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
