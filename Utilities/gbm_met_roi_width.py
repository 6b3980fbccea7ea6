"""How much a gbm-met model set's answer depends on how wide the ROI is drawn.

Makes (or reuses) the gbm-met demo recipe's independent cohort, preprocesses each case once as
`run` does (T2 reference, WhiteStripe) and reads it with every ROI edge scaled about the truth
box's centre by each factor of `--scales`; AUC and accuracy at the set's own cut-off per registry
and factor (the README's and the card's ROI-width figures). Writes JSON.

    .venv/bin/python Utilities/gbm_met_roi_width.py --out build/roi-width \
        --registries Resources/models/registry.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from BrainTumorAILib.image import read_image
from BrainTumorAILib.models.registry import ModelRegistry
from BrainTumorAILib.networks import build_network
from BrainTumorAILib.preprocessing import PreprocessOptions, preprocess
from BrainTumorAILib.progress import Progress
from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.synthetic.truth import load_truth
from BrainTumorAILib.tasks.gbm_met import method as gbm_met
from BrainTumorAILib.tasks.gbm_met.training import DEMO_SET, NORMALISATION
from BrainTumorAILib.threads import configure_threads
from BrainTumorAILib.training.independent_cohort_evaluation import make_test_cohort


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="cohort and figures")
    parser.add_argument("--registries", type=Path, nargs="+", required=True)
    parser.add_argument("--scales", default="0.8,1.0,1.25", help="ROI edge factors, comma-separated")
    args = parser.parse_args()
    configure_threads()
    spec = DEMO_SET["independent_cohort"]
    cohort = make_test_cohort(args.out / "cohort", spec["kinds"], spec["n_per_kind"], spec["seed"],
                              spec["voxel_mm"], spec["variants"], Progress("bar"))
    factors = [float(s) for s in args.scales.split(",")]
    sets = {}
    for path in args.registries:
        model_set = ModelRegistry.load(path).default_for(gbm_met.TASK)
        sets[str(path)] = (model_set, model_set.load_folds(build_network))
    answers = {(path, f): [] for path in sets for f in factors}
    for case in sorted(p for p in Path(cohort).iterdir() if p.is_dir()):
        truth = load_truth(case)
        images = {name: read_image(case / f"{name}.nii.gz", name) for name in ("t1ce", "t2")}
        prepared = preprocess(images, PreprocessOptions(reference="t2", normalisation=NORMALISATION))
        for path, (model_set, models) in sets.items():
            for factor in factors:
                roi = BoxROI.from_ras_bounds(truth["roi_ras_by_sequence"]["t2"]).scaled(factor)
                result, _ = gbm_met.predict(
                    models, prepared.images, prepared.brain_mask, roi, int(model_set.preprocessing["input_size"]),
                    float(model_set.thresholds["predictive_index"]), torch.device("cpu"), with_cam=False,
                    t2_geometry=prepared.input_geometry["t2"], pixel_mm=model_set.preprocessing.get("section_pixel_mm"))
                answers[(path, factor)].append((truth["gbm_met_label"], result["predictive_index"], result["label"]))
    figures = [{"registry": path, "roi_edge_factor": factor, "n_cases": len(rows),
                "auc": float(roc_auc_score([t == "GBM" for t, _, _ in rows], [i for _, i, _ in rows])),
                "accuracy": float(np.mean([t == label for t, _, label in rows]))}
               for (path, factor), rows in answers.items()]
    (args.out / "roi_width.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
