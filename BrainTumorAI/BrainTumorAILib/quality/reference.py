"""The model card's `input_statistics`: the brain-masked intensity statistics of the cases a model
set was trained on, computed the way every run computes them (see distribution.py).

Training calls `reference_statistics` on its cases when it writes the card; the bundled demo
cards are filled reproducibly from their synthetic cohorts' recipe:

    python -m BrainTumorAILib.quality.reference --models Resources/models --cases 12
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..image import read_image
from ..preprocessing import PreprocessOptions, Preprocessor
from .distribution import intensity_statistics, statistics_ranges
from .view import quality_view

MAX_CASES = 6  # the ranges of a handful of cases; each costs one preprocessing


def case_statistics(images: dict, sequences) -> dict[str, dict[str, float]]:
    """{sequence: statistics} of one case (the sequences given, T1CE-referenced as in a run)."""
    view = quality_view(Preprocessor(images, PreprocessOptions(reference="t1ce")))
    return {name: intensity_statistics(view, name) for name in sequences if name in view.images}


def reference_statistics(cases, sequences, max_cases: int = MAX_CASES) -> dict | None:
    """Card field `input_statistics` from training cases (objects with a `sequences` {name: path}
    dict); None when no case has a T1CE and a T2 on disk (e.g. in-memory toy cases)."""
    usable = [case for case in cases
              if all(Path(case.sequences.get(name, "")).is_file() for name in ("t1ce", "t2"))][:max_cases]
    if not usable:
        return None
    samples = []
    for case in usable:
        names = [name for name in dict.fromkeys(("t1ce", "t2", *sequences)) if name in case.sequences]
        images = {name: read_image(case.sequences[name], name) for name in names}
        samples.append(case_statistics(images, sequences))
    return statistics_ranges(samples)


def synthetic_reference_statistics(kinds, voxel_mm: float, n_cases: int, seed: int, sequences,
                                   variants=None) -> dict:
    """`reference_statistics` of `n_cases` generator cases, kinds (and the training cohort's
    acquisition `variants`) taken in turn, seeds from `seed`."""
    variants = variants or [None]
    from types import SimpleNamespace

    from ..synthetic import make_case

    with tempfile.TemporaryDirectory() as work:
        cases = []
        for index in range(n_cases):
            folder = make_case(work, kinds[index % len(kinds)], seed + index, voxel_mm=voxel_mm,
                               variants=variants[(index // len(kinds)) % len(variants)])
            cases.append(SimpleNamespace(sequences={name: folder / f"{name}.nii.gz"
                                                    for name in ("t1ce", "t2", "flair", "t1")}))
        return reference_statistics(cases, sequences, max_cases=n_cases)


# Seeds far from the demo cohorts' (which start at 0-2000), so these cases are new phantoms of
# the same recipe, not the training cases themselves.
STATISTICS_SEED = 90_000


def main(argv=None) -> None:
    from ..models import ModelRegistry, load_card, write_card
    from ..catalog import task_specs

    parser = argparse.ArgumentParser(description="fill the bundled demo cards' input_statistics")
    parser.add_argument("--models", type=Path, required=True, help="models folder holding registry.json")
    parser.add_argument("--cases", type=int, default=MAX_CASES)
    parser.add_argument("--tasks", default="all")
    args = parser.parse_args(argv)
    registry = ModelRegistry.load(args.models / "registry.json")
    for model_set in registry.model_sets():
        task = task_specs().get(model_set.task)
        spec = task.part("demo_set") if task is not None and task.demo_set else None
        if spec is None or (args.tasks != "all" and model_set.task not in args.tasks.split(",")):
            continue
        sequences = list(dict.fromkeys(model_set.entry["inputs"]))
        statistics = synthetic_reference_statistics(spec["kinds"], spec["voxel_mm"], args.cases, STATISTICS_SEED,
                                                    sequences, spec.get("variants"))
        card = load_card(model_set.card_path)
        write_card({**card, "input_statistics": statistics}, model_set.card_path)
        print(f"{model_set.name}: input_statistics from {args.cases} synthetic cases ({', '.join(sequences)})")


if __name__ == "__main__":
    main()
