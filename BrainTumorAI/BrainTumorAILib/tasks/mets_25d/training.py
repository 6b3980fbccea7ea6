"""mets-25d seen from the shared trainer: 2.5D axial slices, half of them through a lesion.

Grøvik 2020: T1CE-referenced, skull-stripped, 1 mm volumes equalised per axial
slice; 7 adjacent slices of each sequence as channels; batch 32 with half the slices containing
lesion (a lesion is drawn first, then one of its slices, so small lesions count as much as large
ones; the other half are random brain slices); sigmoid cross-entropy with positive pixels
weighted 10x; Adam 1e-3 with L2 1e-5; random flips and 90-degree rotations.

Held-out patients are segmented whole, slice by slice as the product does. The probability
threshold is chosen on all held-out cases pooled (`choose_threshold`: Grøvik 2020's Youden point
of the voxel ROC, 0.93 in the paper, or a limit on false-positive lesions per case); the
lesion-wise figures are then counted at that threshold, and at 0.93 for comparison.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from scipy import ndimage
from sklearn.metrics import average_precision_score

from ...errors import InputError
from ...image import copy_geometry
from ...metrics import froc_candidates
from ...networks import build_googlenet_fcn
from ...preprocessing import PreprocessOptions
from ...progress import NullProgress
from ...training.adapter import TaskAdapter
from ...training.augmentation import augmentation_transform
from ...training.cases import Case
from ...training.config import TrainingConfig, load_config
from . import method as mets_25d
from ..metastases import TRAINING_VARIANTS
from ..metastases.cases import LesionCase, prepare_lesion_case
from ..metastases.lesions import threshold_mask
from ..metastases.evaluation import (
    CANDIDATE_THRESHOLD, card_fields, evaluate_case, lowest_threshold_keeping, pooled_voxel_roc, probability_histograms,
    summarise_cases,
)

PAPER_THRESHOLD = 0.93  # Grøvik 2020: Youden index on the development set's ROC
FALLBACK_THRESHOLD = 0.5  # when the held-out cases hold no lesion voxel (no ROC to read)
PAPER_INPUTS = list(mets_25d.PAPER_SEQUENCES)  # four sequences, 28 channels (Grøvik 2020 had two T1CE)
# Without `model.inputs`: T1CE and FLAIR, the two sequences that tell a metastasis (enhancing,
# FLAIR-bright) from enhancing vessels, sinuses and choroid plexus (FLAIR-dark). The grovik2020
# preset asks for PAPER_INPUTS: all four, or those of them that every training case has.
DEFAULT_INPUTS = ["t1ce", "flair"]
PAPER_MIN_LESION_MM3 = 0.0  # Grøvik 2020 removed no small components (Jünger 2021's 3 mm^3 is mets-3d's)
PROBABILITY_FILE = "{case_id}-probability.npz"

DEMO_SET = {
    "task": mets_25d.TASK,
    "name": "mets-25d-demo",
    "kinds": ["metastases", "metastasis", "healthy"],
    "n_per_kind": 8,
    "voxel_mm": 1.5,  # quick phantoms; preprocessing resamples to 1 mm
    "seed": 2020,
    "variants": TRAINING_VARIANTS,
    # Grøvik 2020 preset with the GoogLeNet FCN's channels cut to an eighth (same inception
    # topology, 4x down-sampling and transposed convolution), T1CE and FLAIR (14 channels, not the
    # paper's 28), 128-pixel slices instead of 256 and, in training, 48-pixel crops of them (half
    # around a lesion), so that a short training fits a 2-core CPU; the fully convolutional network
    # then runs on whole slices. Three folds, whose mean map `run` thresholds (the paper deploys one
    # network). The threshold: the lowest keeping at most two false-positive lesions per held-out
    # case, the demo target's budget (Grøvik's published 0.93 missed a quarter of the small
    # lesions on new phantoms; her Youden rule picked 0.03 on these small, briefly trained models;
    # a budget of one gave 0.93 again, and the missed lesions of 6-7 mm peaked at 0.83-0.89).
    "overrides": {"model": {"inputs": list(DEFAULT_INPUTS), "width": 0.125, "image_size": 128, "train_crop": 48,
                            "context_slices": 3, "dropout": 0.0, "slices_per_case": 48,
                            "threshold_rule": "max_fp_per_case", "max_fp_per_case": 2.0,
                            "ensemble": "fold_mean", "min_lesion_mm3": PAPER_MIN_LESION_MM3},
                  "folds": 3, "validation_fraction": 0.2, "epochs": 40, "batch_size": 32, "seed": 2020,
                  # lesions are found at the chosen (high) threshold; each reaches as far as the
                  # probability stays >= 0.75 (the threshold alone shrinks them). Chosen on the
                  # cross-validation's held-out maps at the 0.87 threshold, median lesion Dice for
                  # extents 0.5 / 0.6 / 0.7 / 0.75 / 0.8 / none: 0.69 / 0.75 / 0.76 / 0.78 / 0.78 / 0.72
                  "extent_threshold": 0.75,
                  # every epoch runs (the best validation epoch is kept): short enough not to need stopping
                  "early_stopping_patience": 0},
    "references": ["Grøvik E et al. Deep learning enables automatic detection and segmentation of brain metastases "
                   "on multisequence MRI. J Magn Reson Imaging 2020",
                   "Szegedy C et al. Going deeper with convolutions (GoogLeNet). CVPR 2015"],
    "limitations": [
        "Differs from Grøvik 2020: T1CE and FLAIR (14 channels) instead of T1, T1CE (two), FLAIR (28 channels); "
        "GoogLeNet FCN at an eighth of its channels; 128-pixel slices (48-pixel training crops) instead of 256; three "
        "fold models whose maps are averaged instead of one network; 24 phantoms and 40 epochs of 48 slices per case "
        "instead of 105 patients; threshold the lowest keeping two false-positive lesions per held-out case instead of the Youden "
        "point (0.93 in the paper); each lesion found at that threshold reaches as far as the mean probability stays "
        ">= 0.75 (hysteresis, the extent with the best held-out median lesion Dice), where the paper's masks are the "
        "threshold itself.",
        "As in Grøvik 2020: 7 slices per sequence, per-slice histogram equalisation, half the slices through a "
        "lesion, positives weighted 10x, random flips and 90-degree rotations, no minimum lesion size.",
        "Cross-validated figures are single fold models; the independent_* figures are the deployed fold mean on new "
        "phantoms (other seeds, 1 mm grid, re-acquired T1CE) as `run` applies it.",
    ],
}


def inputs_of(config: TrainingConfig, available=None) -> list[str]:
    """The model's input sequences: the config's (or DEFAULT_INPUTS), less those the training
    cases lack when `available` (the sequences every case has) is given."""
    requested = list(config.model.get("inputs", DEFAULT_INPUTS))
    return [s for s in requested if available is None or s in available]


def min_lesion_mm3(config: TrainingConfig) -> float:
    """Smallest lesion kept; none by default (Grøvik 2020 had no size filter)."""
    return float(config.model.get("min_lesion_mm3", PAPER_MIN_LESION_MM3))


def ensemble_of(config: TrainingConfig) -> str:
    """"single": one network trained on all development cases is deployed (Grøvik 2020);
    "fold_mean": the cross-validation's fold models are deployed and their maps averaged."""
    ensemble = config.model.get("ensemble", "single")
    if ensemble not in ("single", "fold_mean"):
        raise InputError(f"model.ensemble must be single or fold_mean, not {ensemble!r}")
    return ensemble


def preprocessing_settings(config: TrainingConfig) -> dict:
    """The registry's preprocessing entry. The PreprocessOptions part equals mets-3d's (Jünger
    2021: T1CE reference, skull stripping, 1 mm, z-score), so the runner preprocesses a case once
    for both; the per-slice histogram equalisation (Grøvik 2020) runs in the task and makes the
    z-score irrelevant (equalisation ignores any increasing intensity map)."""
    return {"reference": "t1ce", "resample_mm": 1.0, "normalisation": "zscore", "mask_images": True,
            "slice_histogram_equalisation": True, "min_lesion_mm3": min_lesion_mm3(config),
            "ensemble": ensemble_of(config),
            "context_slices": int(config.model.get("context_slices", mets_25d.CONTEXT_SLICES)),
            "image_size": int(config.model.get("image_size", mets_25d.PAPER_IMAGE_SIZE)),
            "window_margin_mm": float(config.model.get("window_margin_mm", mets_25d.WINDOW_MARGIN_MM)),
            **({"extent_threshold": float(config.extent_threshold)} if config.extent_threshold is not None else {})}


def preprocess_options() -> PreprocessOptions:
    settings = preprocessing_settings(TrainingConfig())
    return PreprocessOptions(reference=settings["reference"], resample_mm=settings["resample_mm"],
                             normalisation=settings["normalisation"], mask_images=settings["mask_images"])


def axial_case(case: LesionCase, inputs, t1ce_direction) -> LesionCase:
    """A prepared case equalised per axial slice (as `mets_25d.equalised_volumes` does at
    inference) and turned to axial order; `t1ce_direction` is the reference grid's direction
    (the T1CE input's), which the prepared arrays no longer carry."""
    reference = sitk.GetImageFromArray(case.brain.astype(np.uint8))
    reference.SetSpacing(case.spacing)
    reference.SetDirection(t1ce_direction)
    order = mets_25d.AxialOrder.of(reference)
    images = {name: copy_geometry(case.images[name], reference) for name in inputs}
    volumes = order.to_axial(mets_25d.equalised_volumes(images, reference, inputs))
    zyx = list(case.spacing[::-1])
    axial_zyx = [zyx[order.axis]] + [s for a, s in enumerate(zyx) if a != order.axis]
    axial = {name: np.ascontiguousarray(v) for name, v in zip(inputs, volumes)}
    return LesionCase(case.case_id, axial, np.ascontiguousarray(order.to_axial(case.brain)),
                      np.ascontiguousarray(order.to_axial(case.truth)),
                      tuple(float(s) for s in axial_zyx[::-1]))  # (x, y, z) style, as LesionCase keeps it


def _read_direction(path) -> tuple:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return reader.GetDirection()


def choose_threshold(config: TrainingConfig, voxel_roc: dict, candidates) -> dict:
    """The probability threshold by the preset's `model.threshold_rule`:

    - "youden" (Grøvik 2020's procedure): the Youden point of the ROC of all held-out brain
      voxels pooled;
    - "paper": Grøvik 2020's published threshold, 0.93, fixed before training;
    - "max_fp_per_case": the lowest threshold at which the held-out cases keep at most
      `model.max_fp_per_case` false-positive lesions each (e.g. 1), read off the
      lesion candidates' scores as the FROC curve is (`metrics.froc`).
    The Youden point is reported in both cases.
    """
    rule = config.model.get("threshold_rule", "youden")
    youden = voxel_roc["youden_threshold"] if np.isfinite(voxel_roc["youden_threshold"]) else FALLBACK_THRESHOLD
    if rule == "youden":
        return {"rule": rule, "threshold": float(youden), "youden_threshold": float(youden),
                "how": "Youden index of the ROC of all held-out brain voxels pooled (Grøvik 2020 chose 0.93 so "
                       "on its development set)"}
    if rule == "paper":
        return {"rule": rule, "threshold": PAPER_THRESHOLD, "youden_threshold": float(youden),
                "how": f"Grøvik 2020's published threshold (the Youden point of its development set's ROC), fixed "
                       f"before training; the Youden point of this run's pooled held-out voxel ROC was "
                       f"{youden:.2f} (single fold models)"}
    if rule != "max_fp_per_case":
        raise InputError(f"model.threshold_rule must be youden, paper or max_fp_per_case, not {rule!r}")
    limit = float(config.model.get("max_fp_per_case", 1.0))
    threshold = lowest_threshold_keeping((s for c in candidates for s in c.false_positive_scores), len(candidates),
                                         limit, CANDIDATE_THRESHOLD)
    return {"rule": rule, "threshold": threshold, "youden_threshold": float(youden), "max_fp_per_case": limit,
            "how": f"lowest threshold with at most {limit:g} false-positive lesion(s) per held-out case (lesion "
                   f"candidates scored by their highest probability, as for the FROC); the Youden point of the "
                   f"pooled voxel ROC, Grøvik 2020's rule, was {youden:.2f}"}

class SliceDataset(torch.utils.data.Dataset):
    """`per_case` 2.5D slices of each case; half of a case's are lesion slices (positive_flags tells
    the balanced sampler), the rest random brain slices. Training redraws the slices every epoch
    from torch's generator (reseeded by the trainer); validation slices are fixed by the seed."""

    def __init__(self, cases: list[LesionCase], inputs, image_size: int, context: int, margin_mm: float,
                 per_case: int, train: bool, augmentations=(), seed: int = 0, crop: int | None = None):
        self.case_ids, self.slices, self.targets, self.brain_slices, self.lesion_slices = [], [], [], [], []
        for case in cases:
            window = mets_25d.brain_window(case.brain, case.spacing[0], margin_mm)
            volumes = np.stack([case.images[name] for name in inputs])
            self.slices.append(mets_25d.window_slices(volumes, window, image_size).numpy())
            # Soft targets: the lesion fraction of each resized pixel (thin lesions are not lost).
            self.targets.append(mets_25d.window_slices(case.truth[None].astype(np.float32), window, image_size)[0])
            self.brain_slices.append(window.slices)
            components, count = ndimage.label(case.truth, structure=np.ones((3, 3, 3)))
            self.lesion_slices.append([np.flatnonzero((components == i).any(axis=(1, 2))) for i in range(1, count + 1)])
            self.case_ids.append(case.case_id)
        self.items = [(index, k < per_case // 2 and bool(self.lesion_slices[index]))
                      for index in range(len(cases)) for k in range(per_case)]
        self.context = context
        self.crop = crop if crop and crop < image_size else None
        self.augment = (augmentation_transform(list(augmentations), ["input", "target"], 2, image_keys=["input"])
                        if train else None)
        self.fixed = None
        if not train:  # the same validation samples every epoch
            draws = [np.random.default_rng([seed, i]) for i in range(len(self.items))]
            self.fixed = [(self._centre(i, rng), rng) for i, rng in enumerate(draws)]
            self.fixed = [(centre, self._corner(i, centre, rng)) for i, (centre, rng) in enumerate(self.fixed)]

    def __len__(self) -> int:
        return len(self.items)

    def positive_flags(self) -> list[bool]:
        return [positive for _, positive in self.items]

    def _centre(self, item: int, rng=None) -> int:
        index, positive = self.items[item]
        draw = (lambda n: int(rng.integers(n))) if rng is not None else (lambda n: int(torch.randint(n, ())))
        if positive:
            lesion = self.lesion_slices[index][draw(len(self.lesion_slices[index]))]
            return int(lesion[draw(len(lesion))])
        choices = self.brain_slices[index]
        return int(choices[draw(len(choices))])

    def _corner(self, item: int, centre: int, rng=None) -> tuple[int, int] | None:
        """Top-left corner of the training crop: around a lesion pixel of the slice for a positive
        sample, anywhere in the window otherwise; None without cropping."""
        if self.crop is None:
            return None
        index, positive = self.items[item]
        draw = (lambda n: int(rng.integers(n))) if rng is not None else (lambda n: int(torch.randint(n, ())))
        side = self.targets[index].shape[-1]
        lesion = np.argwhere(self.targets[index][centre].numpy() > 0) if positive else np.empty((0, 2))
        if len(lesion):
            pixel = lesion[draw(len(lesion))]
            return tuple(max(0, min(int(p) - draw(self.crop), side - self.crop)) for p in pixel)
        return draw(side - self.crop + 1), draw(side - self.crop + 1)

    def __getitem__(self, item: int) -> dict:
        index = self.items[item][0]
        if self.fixed is not None:
            centre, corner = self.fixed[item]
        else:
            centre = self._centre(item)
            corner = self._corner(item, centre)
        sample = {"input": mets_25d.stack_slices(self.slices[index], [centre], self.context)[0],
                  "target": self.targets[index][centre][None].numpy()}
        if corner is not None:
            window = (..., slice(corner[0], corner[0] + self.crop), slice(corner[1], corner[1] + self.crop))
            sample = {key: np.ascontiguousarray(value[window]) for key, value in sample.items()}
        if self.augment is not None:
            sample = self.augment(sample)
        return {"input": torch.as_tensor(sample["input"], dtype=torch.float32),
                "target": torch.as_tensor(sample["target"], dtype=torch.float32), "case_id": self.case_ids[index]}


class WeightedBCE(torch.nn.Module):
    """Sigmoid cross-entropy with positive pixels weighted `pos_weight` times (Grøvik 2020: 10)."""

    def __init__(self, pos_weight: float):
        super().__init__()
        self.register_buffer("pos_weight", torch.tensor([float(pos_weight)]))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=self.pos_weight)


class Mets25dAdapter(TaskAdapter):
    task = mets_25d.TASK
    default_preset = "grovik2020"
    truth_label_key = "tumour_type"

    def __init__(self):
        self.cache_dir: Path | None = None
        self.config: TrainingConfig | None = None
        self.available: set[str] | None = None  # the sequences every training case has

    def inputs(self, config: TrainingConfig) -> list[str]:
        return inputs_of(config, self.available)

    def missing_inputs(self, config: TrainingConfig) -> list[str]:
        """Sequences the config asks for that the training cases lack (named in the report)."""
        return [s for s in inputs_of(config) if s not in self.inputs(config)]

    def _path(self, case: Case, inputs) -> Path:
        return self.cache_dir / f"{case.case_id}-{'-'.join(inputs)}-axial.npz"

    def _prepare_case(self, case: Case, inputs) -> Path:
        path = self._path(case, inputs)
        if not path.exists():
            sequences = tuple(dict.fromkeys(["t1ce", *inputs]))
            prepared = prepare_lesion_case(case, preprocess_options(), sequences)
            axial_case(prepared, inputs, _read_direction(case.sequences["t1ce"])).save(path)
        return path

    def prepare(self, cases: list[Case], cache_dir: Path, progress=None) -> None:
        """Preprocess each case once with the default inputs (those every case has), equalised per
        axial slice, in axial order, with its true lesion mask. The trainer passes no settings here:
        a model with other input sequences has its cases prepared again with those on first use."""
        progress = progress or NullProgress()
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.available = set.intersection(*(set(case.sequences) for case in cases)) if cases else set()
        if "t1ce" not in self.available:
            raise InputError("mets-25d training needs a T1CE in every case")
        for index, case in enumerate(cases):
            progress.update("preparing cases", index / len(cases), case.case_id)
            self._prepare_case(case, [s for s in DEFAULT_INPUTS if s in self.available])
        progress.update("preparing cases", 1.0, "done")

    def _load(self, cases: list[Case], config: TrainingConfig) -> list[LesionCase]:
        return [LesionCase.load(self._prepare_case(c, self.inputs(config)), c.case_id) for c in cases]

    def dataset(self, cases: list[Case], config: TrainingConfig, train: bool) -> torch.utils.data.Dataset:
        model = config.model
        return SliceDataset(self._load(cases, config), self.inputs(config),
                            int(model.get("image_size", mets_25d.PAPER_IMAGE_SIZE)),
                            int(model.get("context_slices", mets_25d.CONTEXT_SLICES)),
                            float(model.get("window_margin_mm", mets_25d.WINDOW_MARGIN_MM)),
                            int(model.get("slices_per_case", 64)), train, config.augmentations, config.seed,
                            model.get("train_crop"))

    def architecture(self, config: TrainingConfig) -> dict:
        context = int(config.model.get("context_slices", mets_25d.CONTEXT_SLICES))
        return {"name": "googlenet_fcn",
                "config": {"in_channels": len(self.inputs(config)) * (2 * context + 1),
                           "width": float(config.model.get("width", 1.0)),
                           "dropout": float(config.model.get("dropout", 0.4))}}

    def build_model(self, config: TrainingConfig) -> torch.nn.Module:
        return build_googlenet_fcn(**self.architecture(config)["config"])

    def loss_function(self, config: TrainingConfig) -> torch.nn.Module:
        return WeightedBCE(float(config.loss.get("pos_weight", 10.0)))

    def validation_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Average precision of the validation slices' pixels (threshold-free, fit for rare
        positives); without lesion pixels, the fraction of pixels called negative."""
        probability = torch.sigmoid(outputs.float()).numpy().ravel()
        truth = targets.numpy().ravel() >= 0.5
        if not truth.any():
            return float((probability < 0.5).mean())
        return float(average_precision_score(truth, probability))

    def _probability(self, models, case: LesionCase, config: TrainingConfig) -> np.ndarray:
        device = next(models[0].parameters()).device
        settings = preprocessing_settings(config)
        volumes = np.stack([case.images[name] for name in self.inputs(config)])
        return mets_25d.probability_volume(models, volumes, case.brain, case.spacing[0], settings["image_size"],
                                           device, settings["context_slices"], settings["window_margin_mm"])

    def predict_cases(self, models, cases: list[Case], config: TrainingConfig) -> dict[str, dict]:
        """Every held-out case segmented whole. Its map is kept in the cache and only its voxel
        histograms are returned: `summarise` picks the threshold on all held-out voxels first and
        then counts the lesions there."""
        self.config = config
        predictions = {}
        for case in self._load(cases, config):
            probability = self._probability(models, case, config)
            name = PROBABILITY_FILE.format(case_id=case.case_id)
            np.savez_compressed(self.cache_dir / name, probability=probability.astype(np.float16))
            predictions[case.case_id] = {"case_id": case.case_id, "probability_file": name,
                                         "histograms": probability_histograms(probability, case.truth, case.brain)}
        return predictions

    def _evaluate(self, case: LesionCase, probability: np.ndarray, threshold: float, config) -> dict:
        mask = threshold_mask(probability, threshold, config.extent_threshold)
        return evaluate_case(probability, mask, case.truth, case.brain, case.spacing[::-1],
                             threshold, case.case_id, min_lesion_mm3(config))

    def summarise(self, predictions: dict[str, dict], cases: list[Case], out_dir: Path) -> dict:
        """Choose the threshold on the pooled held-out cases (`threshold_rule`), then count the
        lesion-wise statistics there (and, for comparison, at Grøvik 2020's 0.93)."""
        config = self.config or load_config(self.default_preset)
        loaded = self._load(cases, config)
        maps = {c.case_id: np.load(self.cache_dir / predictions[c.case_id]["probability_file"])["probability"]
                .astype(np.float32) for c in loaded}
        roc = pooled_voxel_roc([predictions[c.case_id]["histograms"] for c in cases])
        choice = choose_threshold(config, roc, [self._candidates(c, maps[c.case_id], config) for c in loaded])
        threshold = choice["threshold"]
        at = {t: {c.case_id: self._evaluate(c, maps[c.case_id], t, config) for c in loaded}
              for t in (threshold, PAPER_THRESHOLD)}
        ids = [c.case_id for c in cases]
        metrics = summarise_cases(at[threshold], ids, out_dir, self.task, threshold)
        paper_dir = Path(out_dir) / "at_paper_threshold"
        paper_dir.mkdir(parents=True, exist_ok=True)
        paper = summarise_cases(at[PAPER_THRESHOLD], ids, paper_dir, self.task, PAPER_THRESHOLD, n_draws=200)
        metrics["threshold_choice"] = {**choice, "voxel_roc": roc, "paper_threshold": PAPER_THRESHOLD}
        metrics["inputs"] = {"used": self.inputs(config), "missing": self.missing_inputs(config),
                             "channels": len(self.inputs(config)) * (2 * preprocessing_settings(config)["context_slices"] + 1)}
        metrics["at_paper_threshold"] = {key: paper[key] for key in ("threshold", "figures", "ci", "ci_method")}
        return metrics

    @staticmethod
    def _candidates(case: LesionCase, probability: np.ndarray, config: TrainingConfig):
        return froc_candidates(probability, case.truth, case.spacing[::-1], candidate_threshold=CANDIDATE_THRESHOLD,
                               min_volume_mm3=min_lesion_mm3(config), case_id=case.case_id)

    def deploys_single_network(self, config: TrainingConfig) -> bool:
        return ensemble_of(config) == "single"

    def model_set_entry(self, config: TrainingConfig) -> dict:
        return {"task": self.task, "architecture": self.architecture(config), "inputs": self.inputs(config),
                "preprocessing": preprocessing_settings(config), "classes": ["metastasis"]}

    def card_fields(self, metrics: dict, n_cases: int) -> dict:
        """The card's figures at the chosen threshold, and the same at Grøvik 2020's 0.93."""
        dataset = "pooled held-out folds (patient-level cross-validation), one fold model per case"
        fields = card_fields(metrics, n_cases, threshold_how=metrics["threshold_choice"]["how"],
                             dataset=f"{dataset}, at the chosen threshold")
        paper = metrics.get("at_paper_threshold")
        if paper and "ci" in paper:
            extra = card_fields(paper, n_cases, threshold_how="", dataset=f"{dataset}, at Grøvik 2020's 0.93")
            fields["metrics"] += [{**m, "name": f"{m['name']}_at_{PAPER_THRESHOLD:g}"} for m in extra["metrics"]]
        return fields
