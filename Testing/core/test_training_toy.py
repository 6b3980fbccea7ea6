"""A toy task for the training tests (no tests here): bright blob vs noise in 16 x 16 slices.

Imported by the test_training_* files; lives in a module (not a test function) so that the
spawned processes of the distributed test can import it too.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

import pytest

from BrainTumorAILib.metrics import evaluate_binary
from BrainTumorAILib.metrics.plots import plot_confusion_matrix, plot_roc
from BrainTumorAILib.training import Case, TaskAdapter, TrainingConfig, augmentation_transform

SIZE = 16
SLICES_PER_CASE = 8


@pytest.fixture(scope="module")
def single_thread():
    """One torch thread: the tiny convolutions run several times faster than with threads
    competing for the cores of a shared test machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_cases(n_patients: int = 12, cases_per_patient: int = 2) -> list[Case]:
    """Half the patients positive ("blob"), the others negative ("noise"); several cases each."""
    return [Case(case_id=f"p{p:02d}-s{s}", patient_id=f"p{p:02d}", label="blob" if p % 2 else "noise")
            for p in range(n_patients) for s in range(cases_per_patient)]


def toy_config(**changes) -> TrainingConfig:
    settings = dict(name="toy", epochs=4, batch_size=8, learning_rate=3e-2, folds=2, validation_fraction=0.25,
                    device="cpu", model={"dropout": 0.2})
    return TrainingConfig(**{**settings, **changes})


def _slices(case: Case) -> np.ndarray:
    """7 or 8 deterministic noisy slices (odd totals exercise distributed padding); positives
    get a Gaussian blob at a case-dependent place."""
    seed = zlib.crc32(case.case_id.encode())
    rng = np.random.default_rng(seed)
    images = rng.normal(0.0, 1.0, size=(SLICES_PER_CASE - seed % 2, 1, SIZE, SIZE)).astype(np.float32)
    if case.label == "blob":
        y, x = np.mgrid[:SIZE, :SIZE]
        for image in images:
            cy, cx = rng.uniform(4, SIZE - 4, size=2)
            image[0] += 3.0 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 8.0)
    return images


class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, case_ids: list[str], transform=None):
        self.images, self.labels, self.case_ids, self.transform = images, labels, case_ids, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        item = {"input": torch.from_numpy(self.images[index]), "target": torch.tensor(self.labels[index]),
                "case_id": self.case_ids[index]}
        return self.transform(item) if self.transform else item

    def positive_flags(self):
        return (self.labels == 1).tolist()


class ToyAdapter(TaskAdapter):
    task = "toy"
    default_preset = "chakrabarty2021"

    def __init__(self):
        self.slices: dict[str, np.ndarray] = {}
        self.prepare_calls = 0

    def prepare(self, cases, cache_dir: Path, progress=None) -> None:
        self.prepare_calls += 1
        self.slices = {case.case_id: _slices(case) for case in cases}

    def dataset(self, cases, config, train):
        images = np.concatenate([self.slices[c.case_id] for c in cases])
        counts = [len(self.slices[c.case_id]) for c in cases]
        labels = np.repeat([int(c.label == "blob") for c in cases], counts)
        ids = [c.case_id for c, n in zip(cases, counts) for _ in range(n)]
        augment = train and config.augmentations
        transform = augmentation_transform(config.augmentations, ["input"], spatial_dims=2) if augment else None
        return ToyDataset(images, labels, ids, transform)

    def build_model(self, config):
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
            nn.Dropout(config.model.get("dropout", 0.0)), nn.Linear(8, 2))

    def loss_function(self, config):
        return nn.CrossEntropyLoss()

    def validation_score(self, outputs, targets):
        return float((outputs.argmax(1) == targets).float().mean())

    def predict_cases(self, models, cases, config):
        predictions = {}
        with torch.no_grad():
            for case in cases:
                images = torch.from_numpy(self.slices[case.case_id])
                score = float(np.mean([m(images).softmax(1)[:, 1].mean() for m in models]))
                predictions[case.case_id] = {"score": score, "label": "blob" if score >= 0.5 else "noise"}
        return predictions

    def summarise(self, predictions, cases, out_dir):
        truth = [int(c.label == "blob") for c in cases]
        scores = [predictions[c.case_id]["score"] for c in cases]
        result = evaluate_binary(truth, scores, 0.5, positive_label="blob", negative_label="noise", n_draws=50)
        plot_roc(result, Path(out_dir) / "roc.png")
        plot_confusion_matrix(result, Path(out_dir) / "confusion_matrix.png")
        return result.to_json()

    def model_set_entry(self, config):
        return {"architecture": {"name": "toy-cnn", "config": {}}, "inputs": ["t1ce"], "classes": ["noise", "blob"],
                "thresholds": {"score": 0.5}}
