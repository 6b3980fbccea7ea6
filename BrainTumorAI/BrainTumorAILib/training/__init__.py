"""Training companion: case index, patient-level folds, presets, the shared trainer, reports.

A task becomes trainable by implementing `TaskAdapter` and naming it in its spec's `training_adapter`;
`train_command` is what `braintumorai train` runs. Multi-GPU / multi-node: launch the same
command with `torchrun`.
"""

from .adapter import TaskAdapter
from .augmentation import AUGMENTATIONS, augmentation_transform
from .cases import Case, index_cases, index_folder, index_manifest, require_sequences
from .command import train_command
from .config import TrainingConfig, load_config
from .folds import check_patients_disjoint, patient_folds, validation_split
from .kfold import run_kfold
from .task_adapters import create_adapter
from .trainer import FoldResult, Trainer

__all__ = [
    "AUGMENTATIONS", "Case", "FoldResult", "TaskAdapter", "Trainer", "TrainingConfig",
    "augmentation_transform", "check_patients_disjoint", "create_adapter", "index_cases", "index_folder",
    "index_manifest", "load_config", "patient_folds", "require_sequences", "run_kfold",
    "train_command", "validation_split",
]
