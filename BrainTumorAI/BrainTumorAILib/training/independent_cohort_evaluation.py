"""A model set's deployed ensemble on an independent synthetic test cohort, as the papers tested theirs.

Shin 2021 and Chakrabarty 2021 report the deployed model (fold vote, fold mean) on patients
that no training or model choice saw. For a demo set the same is done on phantoms with other
seeds than the training cohort and acquisitions the training cohort never had (other planes,
slice profiles, stronger bias fields; see synthetic.acquisition.VARIANTS), the variants taken in
turn over the cases. Every case goes through `run_case`, exactly as `braintumorai run` runs it,
and the figures come from `braintumorai evaluate` on those outputs, so anyone can reproduce them:

    braintumorai run ... --out runs/<case>        (per case)
    braintumorai evaluate --task <task> --pred runs --truth cohort --out stats
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..evaluation import evaluate_command
from ..image import read_image
from ..models import ModelRegistry
from ..progress import NullProgress
from ..roi import BoxROI
from ..runner import run_case, write_run
from ..synthetic.case import make_case
from ..synthetic.cohort import cohort_seeds
from .cases import index_cases

COMPLETE_MARK = ".complete"
# the sequences `run` gets per task (as a user would give them)
TASK_INPUTS = {"gbm-met": ("t1ce", "t2"), "tumour-type": ("t1ce",), "mets-3d": ("t1ce",),
               "mets-25d": ("t1ce", "flair", "t2", "t1")}


def make_test_cohort(out_dir, kinds: list[str], n_per_kind: int, seed: int, voxel_mm: float,
                     variants: list[dict | None], progress=None) -> Path:
    """Phantoms of `seed`'s own case seeds; case i of each kind gets `variants[i % len(variants)]`
    (sequence -> acquisition variant, None for the default protocol). Reused when complete."""
    out_dir = Path(out_dir)
    recipe = json.dumps({"kinds": kinds, "n_per_kind": n_per_kind, "seed": seed, "voxel_mm": voxel_mm,
                         "variants": variants}, sort_keys=True)
    mark = out_dir / COMPLETE_MARK
    if mark.is_file() and mark.read_text() == recipe:
        return out_dir
    progress = progress or NullProgress()
    jobs = [(kind, index, case_seed) for index, case_seed in enumerate(cohort_seeds(seed, n_per_kind))
            for kind in kinds]
    for done, (kind, index, case_seed) in enumerate(jobs):
        progress.update("independent cohort", done / len(jobs), f"{kind} seed {case_seed}")
        make_case(out_dir, kind, case_seed, voxel_mm, variants[index % len(variants)])
    mark.write_text(recipe)
    return out_dir


def run_deployed(task: str, cohort_dir, registry_path, pred_dir, progress=None) -> Path:
    """`run_case` of `task` on every case (the registry's default set), one output folder per case;
    cases already run are kept. The ROI (gbm-met) is the one drawn on each case's T2."""
    pred_dir = Path(pred_dir)
    registry = ModelRegistry.load(registry_path)
    cases = index_cases(cohort_dir, label_key="tumour_type")
    progress = progress or NullProgress()
    for done, case in enumerate(cases):
        progress.update("deployed ensemble", done / len(cases), case.case_id)
        out = pred_dir / case.case_id
        if (out / "result.json").is_file():
            continue
        truth = json.loads(Path(case.truth).read_text())
        roi_bounds = (truth.get("roi_ras_by_sequence") or {}).get("t2") or truth.get("roi_ras")
        images = {name: read_image(case.sequences[name], f"{case.case_id} {name}")
                  for name in TASK_INPUTS[task] if name in case.sequences}
        roi = BoxROI.from_ras_bounds(roi_bounds) if roi_bounds is not None else None
        write_run(run_case(images, roi, tasks=task, device="cpu", registry=registry, case_id=case.case_id), out)
    return pred_dir


def evaluate_independent(task: str, spec: dict, work_dir, registry_path, progress=None) -> dict:
    """Make the cohort `spec` describes, run the deployed set on it and evaluate the outputs.

    `spec`: kinds, n_per_kind, seed, voxel_mm, variants. Returns `evaluate`'s report with the
    cohort's description added; everything is kept under work_dir (cohort, runs, stats).
    """
    progress = progress or NullProgress()
    work_dir = Path(work_dir)
    cohort = make_test_cohort(work_dir / "cohort", spec["kinds"], spec["n_per_kind"], spec["seed"],
                              spec["voxel_mm"], spec["variants"], progress.child(0.0, 0.4))
    runs = run_deployed(task, cohort, registry_path, work_dir / "runs", progress.child(0.4, 0.95))
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
