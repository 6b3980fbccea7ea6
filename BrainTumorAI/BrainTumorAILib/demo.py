"""`make demo`: the bundled synthetic demo case, preprocessed and run through every available task.

The demo case is not stored in the repository: the bundled generator makes it, identically on
every machine, from a fixed kind and seed (a 1 mm head takes seconds to make).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .catalog import SEQUENCES, task_specs
from .image import read_image
from .preprocessing import PreprocessOptions, preprocess
from .report.text import print_run_summary
from .models.registry import ModelRegistry
from .roi import BoxROI
from .runner import run_case, write_run

DEMO_KIND = "gbm"
DEMO_SEED = 7


def demo_case(out_dir: Path) -> Path:
    """Generate (once) the demo case under out_dir and write its radiologist ROI as a Slicer file."""
    from .synthetic import load_truth, make_case

    case_dir = make_case(out_dir, DEMO_KIND, DEMO_SEED, voxel_mm=1.0)
    roi_file = case_dir / "roi.mrk.json"
    if not roi_file.exists():
        BoxROI.from_ras_bounds(load_truth(case_dir)["roi_ras_by_sequence"]["t2"]).to_markups_json(roi_file)
    return case_dir


def available_tasks(registry: ModelRegistry) -> list[str]:
    """Tasks that have a model set installed."""
    return [name for name in task_specs() if registry.model_sets(name)]


def run_demo(out_dir: Path, progress=None) -> dict:
    out_dir = Path(out_dir)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731 - stdout is kept for --progress json
    say(f"generating the synthetic demo case ({DEMO_KIND}, seed {DEMO_SEED}) ...")
    case_dir = demo_case(out_dir / "case")
    images = {name: read_image(case_dir / f"{name}.nii.gz", name) for name in SEQUENCES}
    roi = BoxROI.from_markups_json(case_dir / "roi.mrk.json")
    registry = ModelRegistry.load()
    tasks = available_tasks(registry)
    if not tasks:
        say("no model set installed: preprocessing only (T2 reference, as Shin 2021)")
        preprocess(images, PreprocessOptions(reference="t2"), progress=progress).write(out_dir / "preprocessed_t2")
        say(f"demo case (inputs and truth): {case_dir}\npreprocessed (t2 reference): {out_dir / 'preprocessed_t2'}")
        return {}
    say(f"running {', '.join(tasks)} ...")
    run = run_case(images, roi, tasks=",".join(tasks), device="auto", progress=progress, registry=registry,
                   case_id=case_dir.name)
    write_run(run, out_dir / "run", replace=True)  # a rerun replaces the demo's results whole
    for reference, case in run.preprocessed.items():
        case.write(out_dir / f"preprocessed_{reference}")
    print_run_summary(run.result, out_dir / "run")
    say(f"demo case (inputs and truth): {case_dir}")
    for reference in run.preprocessed:
        say(f"preprocessed ({reference} reference): {out_dir / f'preprocessed_{reference}'}")
    return run.result
