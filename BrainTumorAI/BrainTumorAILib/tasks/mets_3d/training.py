"""mets-3d seen from the shared trainer: DeepMedic on 25^3 segments, half centred on a lesion.

Jünger 2021: T1CE-referenced, skull-stripped, 1 mm, z-scored volumes; 25^3
training segments (each with its context pathway's 57^3 cube), 50% centred on lesion, random
flips, Dice loss, RMSprop, learning rate halved after 3 epochs without improvement, 5 folds.
A lesion-centred segment picks a lesion first and then one of its voxels, so small lesions are
drawn as often as large ones; the other segments are centred on random brain voxels (a
`hard_negative_fraction` of them, 0 in the paper, on voxels of extreme T1CE signal).

Held-out patients are segmented whole (tiled inference, as the product does) and scored
voxel- and lesion-wise by `mets_evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceLoss
from skimage.measure import label

from ...errors import InputError
from ...networks import build_deepmedic
from ...networks.deepmedic import input_size
from ...preprocessing import PreprocessOptions
from ...progress import NullProgress
from ...training.adapter import TaskAdapter
from ...training.augmentation import augmentation_transform
from ...training.cases import Case
from ...training.config import TrainingConfig
from . import method as mets_3d
from ..metastases.lesions import MIN_LESION_MM3
from ..metastases import TRAINING_VARIANTS
from ..metastases.cases import LesionCase, prepare_lesion_case
from ..metastases.common import binary_masks
from ..metastases.evaluation import card_fields, evaluate_case, lesion_peak_choice, summarise_cases

HARD_Z = 1.5  # z-score beyond which a background voxel counts as a hard negative
THRESHOLD = 0.5  # the sigmoid's midpoint, fixed before training (Jünger 2021 reports no other)
TRAINING_SEGMENT = 25  # Jünger 2021

DEMO_SET = {
    "task": mets_3d.TASK,
    "name": "mets-3d-demo",
    "kinds": ["metastasis", "metastases", "healthy"],
    "n_per_kind": 8,
    "voxel_mm": 1.5,  # quick phantoms
    "seed": 2021,
    "variants": TRAINING_VARIANTS,
    # Jünger 2021 preset cut to what a shared 2-core CPU trains in minutes: DeepMedic's widths at
    # about an eighth (same layers, residuals and pathways), a 1.5 mm grid instead of 1 mm (3.4x fewer
    # voxels to segment), few segments and epochs. T1CE and FLAIR (Jünger 2021 used all four
    # sequences): a T1CE-only set trained so briefly marked about 30 enhancing normal structures
    # per case (veins, choroid plexus, sinuses, falx) as lesions; on FLAIR these are dark and
    # metastases with their oedema bright. The phantoms carry those structures
    # (synthetic.hard_negatives); half the background segments are centred on extreme-T1CE-signal
    # voxels, and cross-entropy joins the Dice loss (charging every false-positive voxel).
    "overrides": {"model": {"inputs": ["t1ce", "flair"], "widths": [4, 4, 6, 6, 6, 6, 8, 8], "fc_width": 24,
                            "resample_mm": 1.5, "patches_per_case": 32, "validation_patches_per_case": 12,
                            "hard_negative_fraction": 0.5,
                            "inference_segment": mets_3d.DEFAULT_SEGMENT},
                  "epochs": 12, "batch_size": 10, "learning_rate": 1e-3, "loss": {"name": "dice_ce"}, "seed": 2021,
                  # a lesion of the vote must reach the fold-mean peak that keeps <= 1 false lesion per
                  # held-out case (chosen after training on the folds' held-out cases)
                  "lesion_peak_max_fp": 1.0,
                  # every epoch runs (the best validation epoch is kept): short enough not to need stopping
                  "early_stopping_patience": 0},
    "references": ["Jünger ST et al., AJNR Am J Neuroradiol 2021: melanoma brain metastases detected and segmented by "
                   "3D DeepMedic, five-fold majority vote",
                   "Kamnitsas K et al. Efficient multi-scale 3D CNN with fully connected CRF for accurate brain lesion "
                   "segmentation (DeepMedic). Med Image Anal 2017"],
    "limitations": [
        "Differs from Jünger 2021: DeepMedic at about an eighth of its widths; T1CE and FLAIR instead of all four "
        "sequences; a 1.5 mm grid instead of 1 mm; 24 phantoms and 12 epochs of 32 segments per case instead of 69 "
        "patients; Dice plus "
        "cross-entropy loss instead of Dice alone; half the background segments centred on extreme T1CE signal.",
        "As in Jünger 2021: five fold models whose masks are fused by majority vote at 0.5, components under 3 mm^3 "
        "removed, random flips the only augmentation.",
        "Cross-validated figures are single fold models before the vote; the independent_* figures are the deployed "
        "five-fold vote on new phantoms (other seeds, 1 mm grid, re-acquired T1CE) as `run` applies it.",
    ],
}


def preprocessing_settings(config: TrainingConfig) -> dict:
    """The registry's preprocessing entry: what the runner replays before the network.
    Jünger 2021: T1CE reference, N4, co-registration, skull stripping, 1 mm, z-score."""
    return {"reference": "t1ce", "resample_mm": float(config.model.get("resample_mm", 1.0)),
            "normalisation": "zscore", "mask_images": True, "min_lesion_mm3": MIN_LESION_MM3,
            "segment_size": int(config.model.get("inference_segment", mets_3d.DEFAULT_SEGMENT))}


def preprocess_options(config: TrainingConfig) -> PreprocessOptions:
    settings = preprocessing_settings(config)
    return PreprocessOptions(reference="t1ce", resample_mm=settings["resample_mm"],
                             normalisation=settings["normalisation"], mask_images=settings["mask_images"])


def crop(array: np.ndarray, centre, side: int) -> np.ndarray:
    """The side^3 block of a (..., Z, Y, X) array centred on `centre`, zeros outside the array."""
    half = side // 2
    out = np.zeros(array.shape[:-3] + (side,) * 3, array.dtype)
    source, target = [], []
    for c, n in zip(centre, array.shape[-3:]):
        low, high = int(c) - half, int(c) - half + side
        source.append(slice(max(low, 0), min(high, n)))
        target.append(slice(max(low, 0) - low, side - (high - min(high, n))))
    out[(..., *target)] = array[(..., *source)]
    return out


class SegmentDataset(torch.utils.data.Dataset):
    """`per_case` segments of each case; in training half of a case's are lesion-centred
    (positive_flags tells the balanced sampler) and their centres are redrawn every epoch from
    torch's generator (reseeded by the trainer); validation segments are fixed."""

    def __init__(self, cases: list[LesionCase], inputs: list[str], per_case: int, train: bool,
                 augmentations=(), seed: int = 0, hard_negative_fraction: float = 0.0):
        self.volumes = [np.stack([c.images[name] for name in inputs]).astype(np.float16) for c in cases]
        self.truths = [c.truth for c in cases]
        self.case_ids = [c.case_id for c in cases]
        self.shapes = [c.brain.shape for c in cases]
        # flat indices (int32): a whole brain's voxel list costs 8 MB instead of 48
        self.brain_voxels = [np.flatnonzero(c.brain).astype(np.int32) for c in cases]
        # "hard" background: brain voxels of extreme T1CE signal (|z| >= HARD_Z): CSF spaces, vessels,
        # choroid plexus, the structures that mimic ring-enhancing and solid metastases
        self.hard_voxels = [np.flatnonzero(c.brain & ~c.truth & (np.abs(c.images["t1ce"]) >= HARD_Z)).astype(np.int32)
                            for c in cases]
        self.hard_negative_fraction = hard_negative_fraction
        self.lesions = []
        for c in cases:
            components = label(c.truth, connectivity=3).ravel()
            at = np.flatnonzero(components)
            self.lesions.append([at[components[at] == i].astype(np.int32) for i in range(1, components.max() + 1)])
        self.items = [(index, k < per_case // 2 and bool(self.lesions[index]))
                      for index in range(len(cases)) for k in range(per_case)]
        self.train = train
        self.output = TRAINING_SEGMENT - mets_3d.SHRINK
        self.side = input_size(self.output)
        self.augment = (augmentation_transform(list(augmentations), ["input", "target"], 3, image_keys=["input"])
                        if train else None)
        self.fixed_centres = None if train else [self._centre(i, np.random.default_rng([seed, i]))
                                                  for i in range(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)

    def positive_flags(self) -> list[bool]:
        return [positive for _, positive in self.items]

    def _centre(self, item: int, rng=None):
        index, positive = self.items[item]
        draw = (lambda n: int(rng.integers(n))) if rng is not None else (lambda n: int(torch.randint(n, ())))
        if positive:
            voxels = self.lesions[index][draw(len(self.lesions[index]))]
        elif len(self.hard_voxels[index]) and draw(1000) < 1000 * self.hard_negative_fraction:
            voxels = self.hard_voxels[index]
        else:
            voxels = self.brain_voxels[index]
        return np.unravel_index(voxels[draw(len(voxels))], self.shapes[index])

    def __getitem__(self, item: int) -> dict:
        index = self.items[item][0]
        centre = self.fixed_centres[item] if self.fixed_centres is not None else self._centre(item)
        sample = {"input": crop(self.volumes[index], centre, self.side).astype(np.float32),
                  "target": crop(self.truths[index], centre, self.output)[None].astype(np.float32)}
        if self.augment is not None:
            sample = self.augment(sample)
        return {"input": torch.as_tensor(sample["input"]), "target": torch.as_tensor(sample["target"]),
                "case_id": self.case_ids[index]}


class Mets3dAdapter(TaskAdapter):
    task = mets_3d.TASK
    default_preset = "junger2021"
    truth_label_key = "tumour_type"

    def __init__(self):
        self.cache_dir: Path | None = None

    @staticmethod
    def inputs(config: TrainingConfig) -> list[str]:
        return list(config.model.get("inputs", ["t1ce", "t1", "t2", "flair"]))  # Jünger 2021 used all four

    def _path(self, case: Case, sequences, spacing_mm: float) -> Path:
        return self.cache_dir / f"{case.case_id}-{'-'.join(sequences)}-{spacing_mm:g}mm.npz"

    def prepare(self, cases: list[Case], cache_dir: Path, progress=None) -> None:
        """Check every case can be used and remember the cache folder.

        The preprocessing itself depends on the preset (input sequences, grid spacing), which
        the trainer does not pass here, so each case is preprocessed on its first use
        (`_load`), once per setting, and kept in `cache_dir` for every later fold and run.
        """
        progress = progress or NullProgress()
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for case in cases:
            if "t1ce" not in case.sequences:
                raise InputError(f"case {case.case_id}: mets-3d needs a T1CE")
            if case.seg is None and case.truth is None:
                raise InputError(f"case {case.case_id}: mets-3d training needs a lesion segmentation")
        progress.update("preparing cases", 1.0, f"{len(cases)} cases are preprocessed on first use")

    def _load(self, cases: list[Case], config: TrainingConfig) -> list[LesionCase]:
        sequences = tuple(dict.fromkeys(["t1ce", *self.inputs(config)]))
        options = preprocess_options(config)
        loaded = []
        for case in cases:
            path = self._path(case, sequences, options.resample_mm)
            if not path.exists():
                missing = [s for s in sequences if s not in case.sequences]
                if missing:
                    raise InputError(f"case {case.case_id}: mets-3d inputs lack {', '.join(missing)}")
                prepare_lesion_case(case, options, sequences).save(path)
            loaded.append(LesionCase.load(path, case.case_id))
        return loaded

    def dataset(self, cases: list[Case], config: TrainingConfig, train: bool) -> torch.utils.data.Dataset:
        per_case = int(config.model.get("patches_per_case", 100))
        if not train:
            per_case = int(config.model.get("validation_patches_per_case", per_case))
        return SegmentDataset(self._load(cases, config), self.inputs(config), per_case, train,
                              config.augmentations, config.seed,
                              float(config.model.get("hard_negative_fraction", 0.0)))

    def architecture(self, config: TrainingConfig) -> dict:
        model = config.model
        return {"name": "deepmedic",
                "config": {"in_channels": len(self.inputs(config)),
                           "widths": list(model.get("widths", [30, 30, 40, 40, 40, 40, 50, 50])),
                           "fc_width": int(model.get("fc_width", 150)),
                           "dropout": float(model.get("dropout", 0.0))}}

    def build_model(self, config: TrainingConfig) -> torch.nn.Module:
        return build_deepmedic(**self.architecture(config)["config"])

    def loss_function(self, config: TrainingConfig) -> torch.nn.Module:
        """Jünger 2021: Dice loss, over the whole batch since half its segments hold no lesion.
        `loss: {"name": "dice_ce"}` adds binary cross-entropy (MONAI DiceCELoss), which charges
        every false-positive voxel; Dice alone barely does when the batch holds lesions."""
        name = config.loss.get("name", "dice")
        if name == "dice":
            return DiceLoss(sigmoid=True, batch=True)
        if name == "dice_ce":
            return DiceCELoss(sigmoid=True, batch=True)
        raise InputError(f"mets-3d loss must be dice or dice_ce, got {name!r}")

    def validation_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Dice of the thresholded segments pooled over the validation set."""
        predicted = torch.sigmoid(outputs) >= THRESHOLD
        truth = targets > 0.5
        denominator = float(predicted.sum() + truth.sum())
        return 2.0 * float((predicted & truth).sum()) / denominator if denominator else 1.0

    def predict_cases(self, models, cases: list[Case], config: TrainingConfig) -> dict[str, dict]:
        """Whole-brain tiled inference on each case, scored against its truth (`evaluate_case`)."""
        device = next(models[0].parameters()).device
        segment = int(config.model.get("inference_segment", mets_3d.DEFAULT_SEGMENT))
        predictions = {}
        for case in self._load(cases, config):
            volume = np.stack([case.images[name] for name in self.inputs(config)])
            maps = mets_3d.predict_maps(models, volume, case.brain, segment, device)
            mask, _ = binary_masks(maps, THRESHOLD)
            spacing = case.spacing[::-1]  # (z, y, x) like the arrays
            predictions[case.case_id] = evaluate_case(maps.probability, mask, case.truth, case.brain, spacing,
                                                      THRESHOLD, case.case_id, MIN_LESION_MM3)
        return predictions

    def summarise(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path) -> dict:
        return summarise_cases(predictions, [c.case_id for c in cases], out_dir, self.task, THRESHOLD)

    def summarise_folds(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path, folds: list[dict],
                        config: TrainingConfig) -> dict:
        """`summarise`, and with `lesion_peak_max_fp` the peak probability deployed lesions must reach."""
        metrics = self.summarise(predictions, cases, out_dir)
        if config.lesion_peak_max_fp is not None:
            metrics["lesion_peak"] = lesion_peak_choice([predictions[c.case_id]["froc"] for c in cases],
                                                        config.lesion_peak_max_fp, THRESHOLD)
        return metrics

    def model_set_entry(self, config: TrainingConfig) -> dict:
        return {"task": self.task, "architecture": self.architecture(config), "inputs": self.inputs(config),
                "preprocessing": preprocessing_settings(config), "classes": ["metastasis"]}

    def card_fields(self, metrics: dict, n_cases: int) -> dict:
        return card_fields(metrics, n_cases, threshold_how=f"fixed at {THRESHOLD} (sigmoid midpoint) before training",
                           dataset="pooled held-out folds (patient-level cross-validation), one fold model per "
                                   "case, before the vote")
