"""gbm-met on a confirmation cohort that no choice of the demo recipe has seen (the README's figures).

The recipe's independent cohort (seed 4242, 1.25 mm) also served to choose between recipe variants;
this one was fixed before anything was scored on it: 20 GBM and 20 metastasis phantoms at 1 mm
(the training phantoms are 1.25 mm), case seeds from 5151, T2 also axial 3 mm 2D, coronal 5 mm 2D,
sagittal 4 mm 2D or 3D, T1CE also sagittal or coronal 3D. Runs the deployed set of a registry as
`run` does and writes `evaluate`'s report into OUT/stats/evaluation.json.

    .venv/bin/python Utilities/gbm_met_confirmation.py --out build/gbm-met-confirmation
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from BrainTumorAILib.models import models_dir
from BrainTumorAILib.progress import Progress
from BrainTumorAILib.threads import configure_threads
from BrainTumorAILib.training.independent_cohort_evaluation import evaluate_independent

CONFIRMATION_COHORT = {
    "kinds": ["gbm", "metastasis"], "n_per_kind": 20, "seed": 5151, "voxel_mm": 1.0,
    "variants": [None, {"t2": "axial_2d_3mm", "t1ce": "sagittal_3d"}, {"t2": "coronal_2d", "t1ce": "coronal_3d"},
                 {"t2": "sagittal_2d"}, {"t2": "axial_3d", "t1ce": "sagittal_3d"}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=models_dir() / "registry.json")
    parser.add_argument("--out", type=Path, required=True, help="cohort, runs and stats")
    args = parser.parse_args()
    configure_threads()
    progress = Progress("bar")
    report = evaluate_independent("gbm-met", CONFIRMATION_COHORT, args.out, args.registry, progress)
    progress.close()
    metrics = report["metrics"]
    print(json.dumps({name: {"value": metrics[name], "ci": metrics["ci"][name]} for name in ("auc", "accuracy")},
                     indent=2))


if __name__ == "__main__":
    main()
