"""The deployed model sets on an independent cohort, exactly as `run` applies them (Jünger 2021's
fold vote, the fold mean or one network) and scored by `braintumorai evaluate` from the run
outputs: the figures a paper reports on its test set, beside the cross-validated ones.

`make weights` uses it for the demo cards; by hand the same figures come from
`braintumorai run --tasks mets-3d,mets-25d ... --out runs/<case>` per case and
`braintumorai evaluate --task mets-3d --pred runs --truth cohort --out stats` (also mets-25d and
mets-agreed, the lesions both methods found).
"""

from __future__ import annotations

import math
from pathlib import Path

from .evaluation import evaluate_command
from .image import read_image
from .models import ModelRegistry
from .runner import run_case, write_run
from .tasks.metastases.cross_method import AGREED_TASK, TASKS as METASTASIS_TASKS
from .training.cases import index_cases

CARD_FIGURES = ("sensitivity", "sensitivity_ge_3mm", "false_positives_per_case", "false_positives_ge_10mm3_per_case",
                "median_lesion_dice")


def run_cohort(cohort_dir, runs_dir, tasks, registry_path=None, progress=None) -> list[str]:
    """`run` (the given tasks, CPU) on every case of the cohort that has no result yet; case ids."""
    registry = ModelRegistry.load(registry_path) if registry_path else ModelRegistry.load()
    needed = {s for task in tasks for s in registry.default_for(task).inputs} | {"t1ce"}
    runs_dir = Path(runs_dir)
    cases = index_cases(Path(cohort_dir), label_key="tumour_type")
    for index, case in enumerate(cases):
        if progress is not None:
            progress.update("independent cohort", index / len(cases), case.case_id)
        if (runs_dir / case.case_id / "result.json").is_file():
            continue
        # only the sequences the model sets read: every other one would be registered for nothing
        images = {name: read_image(path, name) for name, path in case.sequences.items() if name in needed}
        run = run_case(images, None, tasks=",".join(tasks), device="cpu", registry=registry, case_id=case.case_id)
        write_run(run, runs_dir / case.case_id)
    return [case.case_id for case in cases]


def evaluate_cohort(cohort_dir, runs_dir, out_dir, tasks) -> dict[str, dict]:
    """`evaluate` of each task (and of the agreed list when both metastasis tasks ran)."""
    names = list(tasks) + ([AGREED_TASK] if set(METASTASIS_TASKS) <= set(tasks) else [])
    return {name: evaluate_command(name, runs_dir, cohort_dir, Path(out_dir) / name) for name in names}


def card_metrics(report: dict, dataset: str, prefix: str = "independent_") -> list[dict]:
    """Model-card metric entries (with bootstrap CIs) from an `evaluate` report of a metastasis task."""
    metrics = report["metrics"]
    out = []
    for name in CARD_FIGURES:
        value, ci = metrics["figures"].get(name), metrics["ci"].get(name, {})
        if value is None or not math.isfinite(value) or ci.get("low") is None:
            continue
        out.append({"name": f"{prefix}{name}", "value": float(value), "dataset": dataset, "n_cases": report["n_cases"],
                    "ci": {"level": ci["level"], "low": ci["low"], "high": ci["high"], "method": metrics["ci_method"]}})
    return out
