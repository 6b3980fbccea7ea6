"""`make weights`: train the bundled demo model sets on synthetic cohorts, reproducibly.

Demo weights only: synthetic phantoms, reduced widths, few epochs. Every card, the registry,
the panel and the report say so. Real models come from `braintumorai train` on real cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
from pathlib import Path

import torch

from .models import ModelRegistry, load_card, models_dir, write_card
from .progress import Progress
from .synthetic import make_cohort
from .synthetic.cohort import cohort_once
from .training import TrainingConfig, load_config, run_kfold
from .training.cases import index_cases
from .training.independent_cohort_evaluation import (
    evaluate_independent, evaluate_runs, metastasis_card_metrics, run_deployed,
)
from .training.registration import build_card_and_entry
from .training.task_adapters import create_adapter

INTENDED_USE = ("Demonstration and software testing of BrainTumorAI on synthetic phantoms. "
                "Not for clinical use; train on real cases with `braintumorai train`.")
LIMITATIONS = [
    "Trained only on synthetic phantoms built on the MNI152 template: no real patient data.",
    "Reduced-width network and short training; accuracy on real MRI is unknown and presumably poor.",
]


def recipe_config(spec: dict, adapter) -> TrainingConfig:
    """The training configuration a demo recipe runs: its preset (the task's by default) with its overrides."""
    preset = spec.get("preset", adapter.default_preset)
    return dataclasses.replace(load_config(preset), name=f"{preset}-demo", **spec["overrides"])


def train_demo_set(spec: dict, work_dir: Path, out_dir: Path, progress) -> None:
    """Make the spec's synthetic cohort, cross-validate, copy the folds and card into out_dir, register."""
    task = spec["task"]
    # the cohort is deterministic: a finished one is reused when training is run again
    recipe = {key: spec[key] for key in ("kinds", "n_per_kind", "seed", "voxel_mm", "variants") if key in spec}
    cohort_dir = cohort_once(work_dir / f"{spec['name']}-cohort", recipe, lambda folder: make_cohort(
        folder, spec["kinds"], spec["n_per_kind"], spec["seed"], voxel_mm=spec["voxel_mm"],
        progress=progress.child(0.0, 0.3), variants=spec.get("variants"), workers=os.cpu_count() or 1))
    adapter = create_adapter(task)
    config = recipe_config(spec, adapter)
    run_dir = work_dir / f"{spec['name']}-run"
    report = run_kfold(adapter, index_cases(cohort_dir, adapter.truth_label_key), config, run_dir,
                       progress=progress.child(0.3, 1.0))
    set_dir = out_dir / spec["name"]
    if set_dir.exists():
        shutil.rmtree(set_dir)
    set_dir.mkdir(parents=True)
    fold_files = []
    for index, fold in enumerate(report["model_set"]["folds"]):
        target = set_dir / f"fold{index}.safetensors"
        shutil.copyfile(run_dir / fold["path"], target)
        fold_files.append(target)
    variants = sorted({f"{seq} {name}" for v in spec.get("variants", []) if v for seq, name in v.items()})
    description = (f"{spec['n_per_kind']} synthetic phantoms per class ({', '.join(spec['kinds'])}), "
                   f"seed {spec['seed']}, {spec['voxel_mm']} mm, from BrainTumorAILib.synthetic"
                   + (f"; acquisition variants in turn: the default protocol and {', '.join(variants)}"
                      if variants else ""))
    card, entry = build_card_and_entry(report, spec["name"], "1.0.0", demo=True, data_description=description,
                                       intended_use=INTENDED_USE,
                                       limitations=LIMITATIONS + spec.get("limitations", []),
                                       fold_files=fold_files, base_dir=out_dir)
    if spec.get("references"):
        card["references"] = list(spec["references"])
    write_card(card, set_dir / "model_card.json")
    entry["card"] = f"{spec['name']}/model_card.json"
    registry = ModelRegistry.load(out_dir / "registry.json")
    registry.add(entry, replace=True)
    registry.save()
    for plot in run_dir.glob("*.png"):
        shutil.copyfile(plot, set_dir / plot.name)
    for fold in report["folds"]:  # learning curves
        shutil.copyfile(run_dir / fold["loss_plot"], set_dir / f"loss_curves_fold{fold['fold']}.png")
    if "independent_cohort" in spec:
        add_independent_figures(spec, adapter, card, work_dir, out_dir, set_dir, progress)


def add_independent_figures(spec: dict, adapter, card: dict, work_dir: Path, out_dir: Path, set_dir: Path,
                            progress) -> None:
    """The deployed set on its independent cohort, as `run` applies it: figures with CIs into the card."""
    report = evaluate_independent(spec["task"], spec["independent_cohort"], work_dir / f"{spec['name']}-independent",
                                  out_dir / "registry.json", progress)
    card["metrics"] = [m for m in card["metrics"] if not m["dataset"].startswith("independent")]
    card["metrics"] += adapter.independent_card_metrics(report)
    single = [f["fold"] for f in report.get("folds", []) if f["one_class_for_every_case"]]
    if single:
        card["limitations"].append(f"On the independent cohort, fold model(s) {single} give one class to every case.")
    write_card(card, set_dir / "model_card.json")
    shutil.copyfile(work_dir / f"{spec['name']}-independent" / "stats" / "evaluation.json",
                    set_dir / "independent_evaluation.json")


def refresh_independent_figures(spec: dict, work_dir: Path, out_dir: Path, progress) -> None:
    """Re-measure a bundled set on its independent cohort and refresh its card's honest fields
    (augmentations, references, limitations) without retraining."""
    adapter = create_adapter(spec["task"])
    set_dir = out_dir / spec["name"]
    card = json.loads((set_dir / "model_card.json").read_text())
    card["training"]["augmentations"] = adapter.augmentations_applied(recipe_config(spec, adapter))
    card["references"] = list(adapter.references)
    card["limitations"] = LIMITATIONS + spec.get("limitations", [])
    add_independent_figures(spec, adapter, card, work_dir, out_dir, set_dir, progress)


def evaluate_metastasis_sets(work_dir: Path, out_dir: Path, progress) -> dict:
    """Both metastasis demo sets as `run` applies them on an independent cohort (other seeds, other
    T1CE acquisitions: `synthetic.reacquisition`), scored by `evaluate`; each card gets these
    figures (`independent_*`) and those of the lesions both methods found (`agreed_*`), and
    the recipe's references and limitations."""
    from .synthetic.reacquisition import make_independent_cohort
    from .catalog import task_spec
    from .tasks.metastases.cross_method import AGREED_TASK, TASKS as METASTASIS_TASKS

    spec = INDEPENDENT_COHORT
    cohort_dir = cohort_once(work_dir / "mets-independent-cohort", spec, lambda folder: make_independent_cohort(
        folder, spec["kinds"], spec["n_per_kind"], spec["seed"], spec["voxel_mm"]))
    runs_dir = work_dir / "mets-independent-runs"
    run_deployed(list(METASTASIS_TASKS), cohort_dir, out_dir / "registry.json", runs_dir, progress)
    reports = evaluate_runs(list(METASTASIS_TASKS), cohort_dir, runs_dir, work_dir / "mets-independent-stats")
    description = (f"independent synthetic cohort: {spec['n_per_kind']} per kind ({', '.join(spec['kinds'])}), "
                   f"seed {spec['seed']}, {spec['voxel_mm']} mm, T1CE re-acquired sagittal/coronal 3D or axial 3 mm "
                   f"2D with other contrast, bias and noise (synthetic.reacquisition)")
    for task in METASTASIS_TASKS:
        demo = task_spec(task).part("demo_set")
        card_path = out_dir / demo["name"] / "model_card.json"
        card = load_card(card_path)
        kept = [m for m in card["metrics"] if not m["name"].startswith(("independent_", "agreed_"))]
        deployed = f"{description}; deployed model set as `run` applies it, scored by `braintumorai evaluate`"
        agreed = f"{description}; lesions found by both mets-3d and mets-25d (result.json agreed_lesions)"
        card["metrics"] = (kept + metastasis_card_metrics(reports[task], deployed)
                           + metastasis_card_metrics(reports[AGREED_TASK], agreed, "agreed_"))
        card["limitations"] = LIMITATIONS + demo.get("limitations", [])
        card["references"] = list(demo.get("references", []))
        write_card(card, card_path)
    return reports


# Other seeds, grid and T1CE acquisitions than any training cohort; healthy and GBM heads included.
INDEPENDENT_COHORT = {"kinds": ["metastases", "metastasis", "healthy", "gbm"], "n_per_kind": 3, "seed": 7,
                      "voxel_mm": 1.0}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="models folder (default: the bundled one)")
    parser.add_argument("--work", type=Path, default=Path("build/demo_weights"), help="cohorts and runs")
    parser.add_argument("--tasks", default="all", help="all, or a comma-separated list of tasks")
    parser.add_argument("--independent-only", action="store_true",
                        help="only re-measure the bundled sets on their independent cohorts (no training)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="torch threads (default: half the cores; oversubscribed cores slow training ~10x)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from .catalog import task_spec, task_specs

    names = [n for n, spec in task_specs().items() if spec.demo_set] if args.tasks == "all" else args.tasks.split(",")
    metastasis_sets = {"mets-3d", "mets-25d"}  # measured together: the cross-method check needs both
    for name in names:
        progress = Progress("bar")
        recipe = task_spec(name).part("demo_set")
        if not args.independent_only:
            train_demo_set(recipe, args.work, args.out or models_dir(), progress)
        elif name not in metastasis_sets:
            refresh_independent_figures(recipe, args.work, args.out or models_dir(), progress)
        progress.close()
    if metastasis_sets & set(names):
        progress = Progress("bar")
        evaluate_metastasis_sets(args.work, args.out or models_dir(), progress)
        progress.close()


if __name__ == "__main__":
    main()
