"""What a task gives the shared trainer: its data, its network, its loss and its case-level scores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch

from ..errors import InputError
from .augmentation import AUGMENTATIONS
from .cases import Case
from .config import TrainingConfig


class TaskAdapter(ABC):
    """One clinical task seen from the trainer.

    Dataset items are dicts with at least `input` (float tensor), `target` (tensor) and
    `case_id` (str), so the trainer can batch any task and keep patients apart.
    """

    task: str
    default_preset: str
    # The truth.json key that labels a synthetic case for this task ("gbm_met_label" or "tumour_type").
    truth_label_key: str = "gbm_met_label"
    # Whether `summarise_folds` needs each fold model's predictions on its validation patients.
    needs_validation_predictions: bool = False
    # The `augmentations` names this task's training datasets apply (others are refused, not ignored).
    supported_augmentations: tuple = AUGMENTATIONS

    def check_config(self, config: TrainingConfig) -> None:
        """Refuse, before any case is prepared, settings this task cannot apply (InputError)."""
        unsupported = [name for name in config.augmentations if name not in self.supported_augmentations]
        if unsupported:
            raise InputError(f"{self.task} training does not apply the augmentation(s) {', '.join(unsupported)} "
                             f"(it applies: {', '.join(self.supported_augmentations)})")

    @abstractmethod
    def prepare(self, cases: list[Case], cache_dir: Path, progress=None) -> None:
        """Preprocess every case once into `cache_dir` (the slow part, shared by all folds)."""

    @abstractmethod
    def dataset(self, cases: list[Case], config: TrainingConfig, train: bool) -> torch.utils.data.Dataset:
        """Training (augmented when `train`) or validation samples of these prepared cases."""

    @abstractmethod
    def build_model(self, config: TrainingConfig) -> torch.nn.Module:
        """A fresh network configured by the preset (architecture options live in `config.model`)."""

    @abstractmethod
    def loss_function(self, config: TrainingConfig) -> torch.nn.Module:
        """Loss taking (model output, batch target)."""

    @abstractmethod
    def validation_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Sample-level score to pick the best epoch; higher is better."""

    @abstractmethod
    def predict_cases(self, models: list[torch.nn.Module], cases: list[Case], config: TrainingConfig) -> dict[str, dict]:
        """Case-level prediction (JSON-ready dict, e.g. the predictive index) per case id, from an ensemble."""

    @abstractmethod
    def summarise(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path) -> dict:
        """Task metrics with CIs over pooled held-out predictions; writes the task's plots into out_dir."""

    def summarise_folds(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path, folds: list[dict],
                        config: TrainingConfig) -> dict:
        """`summarise` with the folds' splits (test, train and validation ids; with
        `needs_validation_predictions`, also `validation_predictions`) and the config."""
        return self.summarise(predictions, cases, out_dir)

    def independent_card_metrics(self, evaluation: dict) -> list[dict]:
        """Card metrics from `braintumorai evaluate`'s report on an independent cohort (its
        `cohort` description names the dataset)."""
        fields = self.card_fields(evaluation["metrics"], evaluation["n_cases"])
        return [{**metric, "dataset": evaluation["cohort"]} for metric in fields["metrics"]]

    def augmentations_applied(self, config: TrainingConfig) -> list[str]:
        """What training really did to the samples (the model card's `training.augmentations`)."""
        return list(config.augmentations)

    references: tuple = ()  # the papers the task follows, for the model card

    def deploys_single_network(self, config: TrainingConfig) -> bool:
        """True when the paper deployed one network trained on all development cases (then trained
        after the cross-validation) rather than the fold models."""
        return False

    def model_set_entry(self, config: TrainingConfig) -> dict:
        """Registry fields this task adds to a trained model set (inputs, classes, thresholds...)."""
        return {}

    def card_fields(self, metrics: dict, n_cases: int) -> dict:
        """Model-card fields from `summarise`'s metrics: `thresholds` (name -> value), `cutoffs`
        (name -> {value, how_chosen}) and `metrics` (list of {name, value, ci, dataset, n_cases})."""
        return {"thresholds": {}, "cutoffs": {}, "metrics": []}
