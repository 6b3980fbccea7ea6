"""Turn a finished training run into a registered model set with its model card."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..models import DEMO_NOTICE, ModelRegistry, write_card
from .config import TrainingConfig
from .task_adapters import create_adapter


def build_card_and_entry(report: dict, name: str, version: str, demo: bool, data_description: str,
                         intended_use: str, limitations: list[str], fold_files: list[Path],
                         base_dir: Path) -> tuple[dict, dict]:
    """Registry entry and model card of a run whose fold weights are now `fold_files` (in fold
    order); paths relative to `base_dir`, the registry's folder."""
    adapter = create_adapter(report["task"])
    model_set = report["model_set"]
    n_cases = report["data"]["n_cases"]
    fields = adapter.card_fields(report["metrics"], n_cases)
    folds = [{"path": _relative(path, base_dir), "sha256": fold["sha256"], "size": fold["size"]}
             for path, fold in zip(fold_files, model_set["folds"])]
    common = {"name": name, "task": report["task"], "version": version, "demo": demo,
              "architecture": model_set["architecture"], "inputs": model_set["inputs"],
              "preprocessing": model_set["preprocessing"], "classes": model_set["classes"]}
    if demo:
        common["notice"] = DEMO_NOTICE
    card = {**common, "created": datetime.date.today().isoformat(),
            "cutoffs": fields["cutoffs"],
            "training_data": {"description": data_description, "n_cases": n_cases, "synthetic": demo,
                              "splits": {f"fold_{f['fold']}_test": len(f["test"]) for f in report["folds"]}},
            "training": {**report["config"],
                         "augmentations": adapter.augmentations_applied(TrainingConfig(**report["config"]))},
            "references": list(adapter.references),
            "learning_curves": {f"fold_{f['fold']}": {"best_epoch": f["best_epoch"], "epochs_run": len(f["history"]),
                                                      "train_loss": [round(h["train_loss"], 5) for h in f["history"]],
                                                      "val_loss": [round(h["val_loss"], 5) for h in f["history"]],
                                                      "val_score": [round(h["val_score"], 5) for h in f["history"]]}
                                for f in report["folds"]},
            "metrics": fields["metrics"], "intended_use": intended_use,
            "limitations": limitations, "files": [{"path": f["path"], "sha256": f["sha256"]} for f in folds],
            **({"input_statistics": model_set["input_statistics"]} if "input_statistics" in model_set else {}),
            # what else the task reports (tumour-type: the confusion matrix)
            **{key: value for key, value in fields.items() if key not in ("thresholds", "cutoffs", "metrics")}}
    entry = {**common, "thresholds": fields["thresholds"], "folds": folds, "card": "", "default": True}
    return card, entry


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def register_model_set(report: dict, run_dir, name: str | None = None, version: str = "1.0.0",
                       registry: ModelRegistry | None = None):
    """Register a user's trained set in the per-user registry (the panel then offers it)."""
    run_dir = Path(run_dir)
    registry = registry or ModelRegistry.load()
    name = name or f"{report['task']}-{run_dir.resolve().name}".lower().replace("_", "-")
    card, entry = build_card_and_entry(
        report, name, version, demo=False, data_description=f"user cases indexed for training in {run_dir}",
        intended_use="Research on the user's own cases; validate locally before any use.",
        limitations=["Trained on the user's cases: performance elsewhere is unknown."],
        fold_files=[run_dir / fold["path"] for fold in report["model_set"]["folds"]], base_dir=registry.path.parent)
    card_path = run_dir / "model_card.json"
    write_card(card, card_path)
    entry["card"] = _relative(card_path, registry.path.parent)
    model_set = registry.add(entry, replace=True)
    registry.save()
    return model_set
