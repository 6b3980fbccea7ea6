"""A model set's deployed ensemble on an independent synthetic test cohort, as the papers tested theirs.

Shin 2021 and Chakrabarty 2021 report the deployed model (fold vote, fold mean) on patients
that no training or model choice saw. For a demo set the same is done on phantoms with other
seeds than the training cohort and acquisitions the training cohort never had (other planes,
slice profiles, stronger bias fields; see synthetic.acquisition.VARIANTS), the variants taken in
turn over the cases. Every case goes through `run_case`, exactly as `braintumorai run` runs it,
and the figures come from `braintumorai evaluate` on those outputs, so anyone can reproduce them:

    braintumorai run ... --out runs/<case>        (per case)
    braintumorai evaluate --task <task> --pred runs --truth cohort --out stats

The metastasis tasks run together on one cohort, so that `evaluate --task mets-agreed` also scores
the lesions both methods found.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

from ..catalog import task_spec
from ..evaluation import evaluate_command
from ..image import read_image
from ..models import ModelRegistry
from ..progress import NullProgress
from ..roi import BoxROI
from ..runner import run_case, write_run
from ..synthetic.cohort import COMPLETE_MARK, cohort_once, make_cohort
from ..tasks.metastases.cross_method import AGREED_TASK, TASKS as METASTASIS_TASKS
from .cases import index_cases

# the figures of a metastasis task's `evaluate` report that go into its card
METASTASIS_CARD_FIGURES = ("sensitivity", "sensitivity_ge_3mm", "false_positives_per_case",
                           "false_positives_ge_10mm3_per_case", "median_lesion_dice")


def make_test_cohort(out_dir, kinds: list[str], n_per_kind: int, seed: int, voxel_mm: float,
                     variants: list[dict | None], progress=None) -> Path:
    """Phantoms of `seed`'s own case seeds; case i of each kind gets `variants[i % len(variants)]`
    (sequence -> acquisition variant, None for the default protocol). Made once per recipe."""
    recipe = {"kinds": kinds, "n_per_kind": n_per_kind, "seed": seed, "voxel_mm": voxel_mm, "variants": variants}
    return cohort_once(out_dir, recipe, lambda folder: make_cohort(
        folder, kinds, n_per_kind, seed, voxel_mm, progress, variants, workers=os.cpu_count() or 1))


def run_deployed(tasks: list[str], cohort_dir, registry_path, pred_dir, progress=None) -> Path:
    """`run_case` of `tasks` on every case (the registry's default sets, CPU), one output folder per
    case; cases already run are kept. Each case gets only the sequences the model sets read (every
    other one would be registered for nothing) and, where a task needs one, the ROI drawn on its T2."""
    registry = ModelRegistry.load(registry_path)
    # runs are kept only for the same model sets on the same cohort: anything else starts afresh; the
    # recipe lies beside the runs, whose folder holds one folder per case and nothing else
    pred_dir = Path(pred_dir)
    pred_dir = cohort_once(pred_dir, {"models": {task: registry.default_for(task).entry for task in tasks},
                                      "cohort": _recipe_of(cohort_dir)}, lambda folder: None,
                           mark=pred_dir.with_name(f".{pred_dir.name}.recipe"))
    needed = {s for task in tasks for s in (*task_spec(task).sequences, *registry.default_for(task).inputs)}
    needs_roi = any(task_spec(task).needs_roi for task in tasks)
    cases = index_cases(cohort_dir, label_key="tumour_type")
    progress = progress or NullProgress()
    for done, case in enumerate(cases):
        progress.update("deployed ensemble", done / len(cases), case.case_id)
        out = pred_dir / case.case_id
        if (out / "result.json").is_file():
            continue
        truth = json.loads(Path(case.truth).read_text())
        roi_bounds = (truth.get("roi_ras_by_sequence") or {}).get("t2") or truth.get("roi_ras")
        images = {name: read_image(path, f"{case.case_id} {name}") for name, path in case.sequences.items()
                  if name in needed}
        roi = BoxROI.from_ras_bounds(roi_bounds) if needs_roi and roi_bounds is not None else None
        write_run(run_case(images, roi, tasks=",".join(tasks), device="cpu", registry=registry,
                           case_id=case.case_id), out)
    return pred_dir


def _recipe_of(cohort_dir) -> str | None:
    mark = Path(cohort_dir) / COMPLETE_MARK
    return mark.read_text() if mark.is_file() else None


def evaluate_runs(tasks: list[str], cohort_dir, runs_dir, out_dir) -> dict[str, dict]:
    """`evaluate` of each task, and of the agreed list when both metastasis tasks ran."""
    names = list(tasks) + ([AGREED_TASK] if set(METASTASIS_TASKS) <= set(tasks) else [])
    return {name: evaluate_command(name, runs_dir, cohort_dir, Path(out_dir) / name) for name in names}


def metastasis_card_metrics(report: dict, dataset: str, prefix: str = "independent_") -> list[dict]:
    """Model-card metric entries (with bootstrap CIs) from an `evaluate` report of a metastasis task."""
    metrics = report["metrics"]
    out = []
    for name in METASTASIS_CARD_FIGURES:
        value, ci = metrics["figures"].get(name), metrics["ci"].get(name, {})
        if value is None or not math.isfinite(value) or ci.get("low") is None:
            continue
        out.append({"name": f"{prefix}{name}", "value": float(value), "dataset": dataset, "n_cases": report["n_cases"],
                    "ci": {"level": ci["level"], "low": ci["low"], "high": ci["high"], "method": metrics["ci_method"]}})
    return out


def evaluate_independent(task: str, spec: dict, work_dir, registry_path, progress=None) -> dict:
    """Make the cohort `spec` describes, run the deployed set on it and evaluate the outputs.

    `spec`: kinds, n_per_kind, seed, voxel_mm, variants. Returns `evaluate`'s report with the
    cohort's description added; everything is kept under work_dir (cohort, runs, stats).
    """
    progress = progress or NullProgress()
    work_dir = Path(work_dir)
    cohort = make_test_cohort(work_dir / "cohort", spec["kinds"], spec["n_per_kind"], spec["seed"],
                              spec["voxel_mm"], spec["variants"], progress.child(0.0, 0.4))
    runs = run_deployed([task], cohort, registry_path, work_dir / "runs", progress.child(0.4, 0.95))
    stats = work_dir / "stats"
    if stats.exists():
        shutil.rmtree(stats)
    report = evaluate_command(task, runs, cohort, stats)
    report["cohort"] = describe(spec)
    (stats / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report


def describe(spec: dict) -> str:
    variants = sorted({f"{seq} {name}" for v in spec["variants"] if v for seq, name in v.items()})
    return (f"independent synthetic cohort: {spec['n_per_kind']} phantoms per class ({', '.join(spec['kinds'])}), "
            f"case seeds from {spec['seed']} (none shared with training), {spec['voxel_mm']} mm; acquisitions "
            f"in turn: the default protocol and {', '.join(variants)}; deployed ensemble as `run` applies it")
