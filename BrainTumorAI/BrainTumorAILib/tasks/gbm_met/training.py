"""gbm-met seen from the shared trainer: ROI slices of T2-referenced cases, one label per patient.

Every ROI slice is an independent sample carrying its case's label (Shin 2021); folds split
by patient, so no patient's slices are in both training and validation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ...errors import InputError
from ...image import read_image
from ...metrics import evaluate_binary
from ...metrics.plots import plot_confusion_matrix, plot_roc
from ...networks import build_slice_resnet50, freeze_backbone, load_torchvision_resnet50
from ...preprocessing import PreprocessOptions, preprocess
from ...progress import NullProgress
from ...roi import BoxROI
from ...training.adapter import TaskAdapter
from ...training.cases import Case
from ...training.config import TrainingConfig
from . import method as gbm_met

log = logging.getLogger(__name__)
PAPER_CUTOFF = 0.55  # Shin 2021, predictive index cut-off from the ROC curve


NORMALISATION = "whitestripe"  # Shin 2021
DEMO_SET = {
    "task": gbm_met.TASK,
    "name": "gbm-met-demo",
    "kinds": ["gbm", "metastasis"],
    "n_per_kind": 24,
    "voxel_mm": 1.25,  # phantoms at 1.25 mm keep the cohort quick to make; preprocessing resamples to 1 mm
    "seed": 2021,
    # Shin 2021 preset with an eighth-width ResNet-50 (same bottleneck topology) to fit the
    # 40 MB budget, 64-pixel slices, batch 32, 10 epochs, and no frozen backbone: no ImageNet weights can be had here,
    # and frozen random convolutions would learn nothing.
    "overrides": {"model": {"widths": [8, 16, 32, 64], "input_size": 64, "dropout": 0.5},
                  "epochs": 10, "batch_size": 32, "freeze_backbone": False, "pretrained": None, "seed": 2021},
}


def preprocessing_settings(config: TrainingConfig) -> dict:
    """What the registry records as the model set's preprocessing (the runner replays it)."""
    return {"reference": "t2", "normalisation": NORMALISATION, "input_size": int(config.model["input_size"])}


class SliceDataset(torch.utils.data.Dataset):
    """All ROI slices of some prepared cases; training adds left-right flips and intensity jitter.

    Random draws come from torch's global generator, which the trainer reseeds every epoch, so
    a resumed run repeats the same augmentations.
    """

    def __init__(self, stacks: list[tuple[str, np.ndarray, int]], train: bool):
        self.items = [(case_id, s, label) for case_id, slices, label in stacks for s in slices]
        self.train = train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        case_id, image, label = self.items[index]
        image = torch.from_numpy(image.astype(np.float32))
        if self.train:
            if torch.rand(()) < 0.5:
                image = image.flip(-1)  # the i axis is left-right on the reference grid
            scale, shift = 0.9 + 0.2 * torch.rand(()), 0.2 * torch.rand(()) - 0.1
            image = image * scale + shift
        return {"input": image, "target": torch.tensor(label, dtype=torch.long), "case_id": case_id}


class GbmMetAdapter(TaskAdapter):
    task = gbm_met.TASK
    default_preset = "shin2021"

    def __init__(self):
        self.cache_dir: Path | None = None

    def prepare(self, cases: list[Case], cache_dir: Path, progress=None) -> None:
        """Preprocess each case (T2 reference) once and keep its ROI crops at 1 mm; sizes come later."""
        progress = progress or NullProgress()
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for index, case in enumerate(cases):
            progress.update("preparing cases", index / len(cases), case.case_id)
            if self._crop_path(case).exists():
                continue
            if case.label not in gbm_met.CLASSES or case.roi_ras is None:
                raise InputError(f"case {case.case_id}: gbm-met training needs a GBM/metastasis label and an ROI")
            images = {name: read_image(case.sequences[name], f"{case.case_id} {name}") for name in ("t1ce", "t2")}
            prepared = preprocess(images, PreprocessOptions(reference="t2", normalisation=NORMALISATION))
            box = gbm_met.roi_box(prepared.brain_mask, BoxROI.from_ras_bounds(case.roi_ras))
            crops = gbm_met.roi_crops(prepared.images, box)
            np.savez_compressed(self._crop_path(case), crops=crops.astype(np.float16))
        progress.update("preparing cases", 1.0, "done")

    def _crop_path(self, case: Case) -> Path:
        return self.cache_dir / f"{case.case_id}.npz"

    def _stacks(self, cases: list[Case], input_size: int):
        """(case id, network inputs (k, 3, size, size), class index) per case."""
        stacks = []
        for case in cases:
            crops = torch.from_numpy(np.load(self._crop_path(case))["crops"].astype(np.float32))
            stacks.append((case.case_id, gbm_met.resize_slices(crops, input_size).numpy(),
                           gbm_met.CLASSES.index(case.label)))
        return stacks

    def dataset(self, cases: list[Case], config: TrainingConfig, train: bool) -> torch.utils.data.Dataset:
        return SliceDataset(self._stacks(cases, int(config.model["input_size"])), train)

    def build_model(self, config: TrainingConfig) -> torch.nn.Module:
        model = build_slice_resnet50(**self.architecture(config)["config"])
        if config.pretrained:
            load_torchvision_resnet50(model, Path(config.pretrained))
        if config.freeze_backbone:
            freeze_backbone(model)
        return model

    def architecture(self, config: TrainingConfig) -> dict:
        widths = config.model.get("widths", [64, 128, 256, 512])
        return {"name": "slice_resnet50",
                "config": {"in_channels": 3, "num_classes": 2, "widths": list(widths),
                           "dropout": float(config.model.get("dropout", 0.5))}}

    def loss_function(self, config: TrainingConfig) -> torch.nn.Module:
        return torch.nn.CrossEntropyLoss()

    def validation_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        probability = torch.softmax(outputs.float(), dim=1)[:, 1].numpy()
        truth = targets.numpy()
        if truth.min() == truth.max():
            return float(((probability >= 0.5) == truth).mean())
        return float(roc_auc_score(truth, probability))

    def predict_cases(self, models, cases: list[Case], config: TrainingConfig) -> dict[str, dict]:
        device = next(models[0].parameters()).device
        predictions = {}
        for case_id, inputs, _ in self._stacks(cases, int(config.model["input_size"])):
            probabilities = gbm_met.fold_probabilities(models, torch.from_numpy(inputs.astype(np.float32)), device)
            decision = gbm_met.vote(probabilities, PAPER_CUTOFF)
            predictions[case_id] = {"predictive_index": decision["predictive_index"], "n_slices": decision["n_slices"]}
        return predictions

    def summarise(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path) -> dict:
        """Patient-level ROC of the predictive index; the cut-off is the Youden point."""
        truth = np.array([int(c.label == "GBM") for c in cases])
        score = np.array([predictions[c.case_id]["predictive_index"] for c in cases])
        at_paper = evaluate_binary(truth, score, PAPER_CUTOFF, positive_label="GBM", negative_label="metastasis")
        cutoff = at_paper.youden.threshold if np.isfinite(at_paper.youden.threshold) else PAPER_CUTOFF
        result = evaluate_binary(truth, score, min(cutoff, 1.0), positive_label="GBM", negative_label="metastasis")
        out_dir = Path(out_dir)
        plot_roc(result, out_dir / "roc.png", "gbm-met: predictive index, held-out patients")
        plot_confusion_matrix(result, out_dir / "confusion_matrix.png", f"gbm-met at cut-off {result.threshold:.2f}")
        return {"cutoff": result.threshold, "cutoff_how": "Youden index on pooled held-out predictive indices",
                "at_chosen_cutoff": result.to_json(), "at_paper_cutoff": at_paper.to_json()}

    def model_set_entry(self, config: TrainingConfig) -> dict:
        return {"task": self.task, "architecture": self.architecture(config),
                "inputs": ["t1ce", "t2", "t2"], "preprocessing": preprocessing_settings(config),
                "classes": list(gbm_met.CLASSES)}

    def card_fields(self, metrics: dict, n_cases: int) -> dict:
        chosen = metrics["at_chosen_cutoff"]
        dataset = "pooled held-out folds (patient-level cross-validation)"
        card_metrics = [
            {"name": name, "value": chosen[name], "dataset": dataset, "n_cases": n_cases,
             "ci": {"level": chosen["ci"][name]["level"], "low": chosen["ci"][name]["low"],
                    "high": chosen["ci"][name]["high"],
                    "method": "bootstrap, 1000 draws of 90% of cases (Shin 2021)"}}
            for name in ("auc", "accuracy", "precision", "recall", "f1")
            if chosen.get(name) is not None and chosen["ci"].get(name, {}).get("low") is not None]
        return {"thresholds": {"predictive_index": metrics["cutoff"]},
                "cutoffs": {"predictive_index": {"value": metrics["cutoff"], "how_chosen": metrics["cutoff_how"]}},
                "metrics": card_metrics}
