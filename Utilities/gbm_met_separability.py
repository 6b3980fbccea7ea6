"""How far apart the synthetic generator puts GBM and metastasis, before any image is made.

Draws `--n` GBM and `--n` solitary-metastasis lesions from `synthetic.recipes` (each in its own
head) and cross-validates a gradient-boosted classifier on the lesions' own parameters (size,
shape, rim, margin, oedema, signal). That is a ceiling for any image model on these phantoms:
the README's gbm-met paragraph quotes it to say whether the demo set is limited by the phantoms
or by what the network learns from them. Writes JSON.

    .venv/bin/python Utilities/gbm_met_separability.py --n 400 --out gbm_met_separability.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from BrainTumorAILib.synthetic.head import make_head
from BrainTumorAILib.synthetic.recipes import gbm, metastasis
from BrainTumorAILib.synthetic.template import template_anatomy

FEATURES = ("diameter_mm", "elongation", "roughness", "edge_mm", "rim_mm", "rim_irregularity", "rim_fraction",
            "texture", "oedema_reach_mm", "oedema_reach_per_diameter", "oedema_roughness", "oedema_cortex",
            "oedema_texture", "oedema_infiltrative", "ring_enhancement", "infratentorial")
SUBSETS = {"all parameters": FEATURES, "diameter": ("diameter_mm",),
           "diameter and oedema": ("diameter_mm", "oedema_reach_mm", "oedema_reach_per_diameter"),
           "shape, margin and rim": ("roughness", "edge_mm", "rim_mm", "rim_irregularity", "rim_fraction")}


def lesion_parameters(lesion) -> dict:
    oedema, diameter = lesion.oedema, lesion.diameter_mm
    reach = oedema.reach_mm if oedema else 0.0
    return {"diameter_mm": diameter, "elongation": float(lesion.semi_axes.max() / lesion.semi_axes.min()),
            "roughness": lesion.roughness, "edge_mm": lesion.edge_mm, "rim_mm": lesion.rim_mm,
            "rim_irregularity": lesion.rim_irregularity, "rim_fraction": lesion.rim_mm / diameter,
            "texture": lesion.texture, "oedema_reach_mm": reach, "oedema_reach_per_diameter": reach / diameter,
            "oedema_roughness": oedema.roughness if oedema else 0.0, "oedema_cortex": oedema.cortex if oedema else 0.0,
            "oedema_texture": oedema.texture if oedema else 0.0,
            "oedema_infiltrative": float(oedema.compartment == "infiltrative_oedema") if oedema else -1.0,
            "ring_enhancement": float(lesion.enhancement == "ring"),
            "infratentorial": float(lesion.location == "infratentorial")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="lesions drawn per class")
    parser.add_argument("--seed", type=int, default=100000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    template = template_anatomy(2.0)  # the recipes only pick sites on it: a coarse grid is enough
    rows, labels = [], []
    for index in range(args.n):
        for label, recipe in ((1, gbm), (0, metastasis)):
            rng = np.random.default_rng(args.seed + 2 * index + label)
            (lesion,) = recipe(rng, make_head(template, rng))
            parameters = lesion_parameters(lesion)
            rows.append([parameters[name] for name in FEATURES])
            labels.append(label)
    table, truth = np.array(rows), np.array(labels)
    results = {}
    for subset, names in SUBSETS.items():
        columns = [FEATURES.index(name) for name in names]
        probability = cross_val_predict(HistGradientBoostingClassifier(random_state=0), table[:, columns], truth,
                                        cv=5, method="predict_proba")[:, 1]
        results[subset] = {"auc": round(float(roc_auc_score(truth, probability)), 3),
                           "accuracy": round(float(((probability >= 0.5) == truth).mean()), 3)}
    report = {"lesions_per_class": args.n, "seed": args.seed, "classifier": "HistGradientBoosting, 5-fold CV",
              "results": results}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
