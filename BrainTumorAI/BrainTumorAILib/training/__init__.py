"""Training companion: case index, patient-level folds, presets, the shared trainer, reports.

A task becomes trainable by implementing `TaskAdapter` and calling `register_adapter`;
`train_command` is what `braintumorai train` runs. Multi-GPU / multi-node: launch the same
command with `torchrun`.
"""

from .adapter import TaskAdapter
from .augmentation import AUGMENTATIONS, augmentation_transform
from .cases import Case, index_cases, index_folder, index_manifest, require_sequences
from .command import train_command
from .config import PRESETS, TrainingConfig, load_config
from .folds import check_patients_disjoint, patient_folds, validation_split
from .kfold import run_kfold
from .task_adapters import ADAPTERS, create_adapter, register_adapter
from .trainer import FoldResult, Trainer

__all__ = [
    "ADAPTERS", "AUGMENTATIONS", "Case", "FoldResult", "PRESETS", "TaskAdapter", "Trainer", "TrainingConfig",
    "augmentation_transform", "check_patients_disjoint", "create_adapter", "index_cases", "index_folder",
    "index_manifest", "load_config", "patient_folds", "register_adapter", "require_sequences", "run_kfold",
    "train_command", "validation_split",
]
