"""`braintumorai run`: preprocess once per reference space, run the chosen tasks, write the contract's files."""

from __future__ import annotations

import csv
import json
import warnings
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from . import __version__
from .answer_checks import answer_checks
from .catalog import LESION_CSV_COLUMNS, task_specs
from .errors import InputError
from .image import LPS_RAS_FLIP, lps_to_ras, write_image
from .models.device import DeviceFallbackWarning, select_device
from .models.registry import ModelRegistry
from .outputs import staged_output
from .preprocessing import PreprocessOptions, Preprocessor
from .preprocessing.pipeline import shared_steps
from .progress import NullProgress
from .quality import assess_quality, load_thresholds
from .report.html import write_report
from .roi import BoxROI
from .tasks.context import TaskContext
from .tasks.metastases.cross_method import cross_check


@dataclass
class RunResult:
    """Everything `run` writes: result.json content, images by file name, lesion rows."""

    result: dict
    images: dict[str, sitk.Image] = field(default_factory=dict)
    lesions: list[dict] = field(default_factory=list)
    preprocessed: dict = field(default_factory=dict)  # reference sequence -> PreprocessedCase
    inputs: dict[str, sitk.Image] = field(default_factory=dict)  # the validated inputs (the report draws them)


def select_tasks(requested: str, images: dict, roi: BoxROI | None,
                 registry: ModelRegistry | None = None) -> tuple[list, list[str]]:
    """The tasks to run and notes on those skipped; `all` skips what the inputs or the installed
    model sets cannot serve (a named task without a model set fails when it runs, naming the registry)."""
    specs = task_specs()
    if requested == "all":
        chosen, notes = [], []
        for spec in specs.values():
            installed = registry is not None and registry.model_sets(spec.name)
            # the installed model set may ask for more than the task's minimum (mets-3d-demo: FLAIR)
            needed = dict.fromkeys([*spec.sequences, *(registry.default_for(spec.name).inputs if installed else [])])
            missing = [s for s in needed if s not in images]
            if registry is not None and not installed:
                notes.append(f"{spec.name} skipped: no model set installed (make weights, or braintumorai train --register)")
            elif missing:
                notes.append(f"{spec.name} skipped: needs {', '.join(missing)}")
            elif spec.needs_roi and roi is None:
                notes.append(f"{spec.name} skipped: needs an ROI (--roi or --roi-ras)")
            else:
                chosen.append(spec)
        if not chosen:
            raise InputError("no task can run on these inputs: " + "; ".join(notes))
        return chosen, notes
    names = [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in specs]
    if unknown or not names:
        raise InputError(f"unknown task {', '.join(unknown) or '(none)'}; choose from all, {', '.join(specs)}")
    for name in names:
        spec = specs[name]
        missing = [s for s in spec.sequences if s not in images]
        if missing:
            raise InputError(f"{name} needs --{' --'.join(missing)}")
        if spec.needs_roi and roi is None:
            raise InputError(f"{name} needs an ROI: give --roi FILE.mrk.json or --roi-ras RMIN,RMAX,AMIN,AMAX,SMIN,SMAX")
    return [specs[n] for n in names], []


class SharedPreprocessing:
    """Each model set's preprocessing, with N4, registration and brain extraction done once per case.

    Model sets differ in reference space and normalisation; one `Preprocessor` per setting of the
    shared steps (in practice one) serves them all, and each distinct option set is computed once.
    """

    def __init__(self, images: dict, progress):
        self.images, self.progress = images, progress
        self.preprocessors: dict = {}
        self.cases: dict = {}
        self.timings: dict = {}

    def __call__(self, settings: dict):
        known = {f.name for f in fields(PreprocessOptions)}
        options = PreprocessOptions(**{k: v for k, v in settings.items() if k in known})
        key = json.dumps(options.to_json(), sort_keys=True)
        if key not in self.cases:
            start = time.perf_counter()
            shared = shared_steps(options)
            if shared not in self.preprocessors:
                self.preprocessors[shared] = Preprocessor(self.images, options, progress=self.progress)
            self.cases[key] = self.preprocessors[shared].case(options=options)
            label = f"preprocess_{options.reference}"
            self.timings[label] = round(self.timings.get(label, 0.0) + time.perf_counter() - start, 3)
        return self.cases[key]


def run_case(images: dict[str, sitk.Image], roi: BoxROI | None, tasks: str = "all", device: str = "auto",
             progress=None, registry: ModelRegistry | None = None, case_id: str | None = None,
             quality_thresholds: dict | None = None, quality_thresholds_file: str | None = None) -> RunResult:
    """Run the tasks on validated input images; returns what `write_run` writes.

    `case_id` only labels result.json and the report (e.g. the inputs' folder name);
    `quality_thresholds` (default: quality.default_thresholds()) judge the inputs (result.json's `quality`)."""
    progress = progress or NullProgress()
    registry = registry or ModelRegistry.load()
    specs, notes = select_tasks(tasks, images, roi, registry)
    for spec in specs:  # fail fast: a missing or tampered model set is refused before preprocessing
        registry.default_for(spec.name).verify()
    torch_device = select_device(device)
    shared = SharedPreprocessing(images, progress.child(0.0, 0.5))
    run = RunResult(result={"case": case_id, "tasks": {}, "device": str(torch_device), "models": {}, "timings_s": {},
                            "notes": notes, "version": __version__,
                            "roi": roi.to_json() if roi is not None else None,
                            "inputs": {name: _geometry_ras(image) for name, image in images.items()}},
                    inputs=dict(images))
    total_start = time.perf_counter()
    for index, spec in enumerate(specs):
        part = progress.child(0.5 + 0.5 * index / len(specs), 0.5 + 0.5 * (index + 1) / len(specs))
        context = TaskContext(images=images, roi=roi, device=torch_device, preprocessed=shared,
                              registry=registry, progress=part)
        start, preprocessing_before = time.perf_counter(), sum(shared.timings.values())
        output = _run_with_cpu_fallback(spec, context)
        # the task's own time: preprocessing it triggered is reported under preprocess_<reference>
        preprocessing_during = sum(shared.timings.values()) - preprocessing_before
        run.result["timings_s"][spec.name] = round(time.perf_counter() - start - preprocessing_during, 3)
        run.result["tasks"][spec.name] = output.result
        run.result["models"][spec.name] = output.model_set
        run.images.update(output.images)
        run.lesions.extend({"task": spec.name, **row} for row in output.lesions)
        part.update(spec.name, 1.0, "done")
    cross_check(run.result, run.images, run.lesions)  # both metastasis tasks: who found what, agreed list
    run.result["answer_checks"] = answer_checks(run.result)
    if shared.preprocessors:
        start = time.perf_counter()
        progress.update("quality", 1.0, "input quality checks")
        run.result["quality"] = assess_quality(
            next(iter(shared.preprocessors.values())), _quality_inputs(specs, images, registry),
            quality_thresholds or load_thresholds(), quality_thresholds_file)
        run.result["timings_s"]["quality"] = round(time.perf_counter() - start, 3)
    run.result["timings_s"].update(shared.timings)
    run.preprocessed = {case.reference: case for case in shared.cases.values()}
    run.result["timings_s"]["total"] = round(time.perf_counter() - total_start, 3)
    return run


def _quality_inputs(specs, images: dict, registry: ModelRegistry) -> dict:
    """{task: (the sequences its model set reads, its card's training input statistics)}."""
    inputs = {}
    for spec in specs:
        model_set = registry.default_for(spec.name)
        used = [name for name in dict.fromkeys([*spec.sequences, *model_set.entry.get("inputs", [])]) if name in images]
        inputs[spec.name] = (used, model_set.card().get("input_statistics"))
    return inputs


def _run_with_cpu_fallback(spec, context: TaskContext):
    """Run a whole task again on the CPU when the GPU runs out of memory (models and maps included)."""
    pipeline = spec.load(spec.pipeline)
    try:
        return pipeline(context)
    except torch.cuda.OutOfMemoryError:
        pass
    # outside the except block, so the failed attempt's tensors are released before emptying
    warnings.warn(f"{spec.name}: CUDA out of memory, running again on the CPU", DeviceFallbackWarning)
    torch.cuda.empty_cache()
    context.device = torch.device("cpu")
    return pipeline(context)


def _geometry_ras(image: sitk.Image) -> dict:
    """Input geometry for result.json (origin in RAS, direction columns in RAS)."""
    direction_ras = LPS_RAS_FLIP @ np.reshape(image.GetDirection(), (3, 3))
    return {"size": list(image.GetSize()), "spacing": list(image.GetSpacing()),
            "origin_ras": lps_to_ras(image.GetOrigin()).tolist(), "direction_ras": direction_ras.tolist()}


def write_run(run: RunResult, out_dir: Path, replace: bool = False) -> Path:
    """Write result.json, lesions.csv, report.html and the images, all or nothing (`replace`: a
    non-empty `out_dir` is replaced whole, see `outputs.staged_output`)."""
    with staged_output(out_dir, replace=replace) as staging:
        for name, image in run.images.items():
            write_image(image, staging / name)
        with open(staging / "lesions.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=LESION_CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(run.lesions)
        (staging / "result.json").write_text(json.dumps(run.result, indent=2))
        write_report(run, staging / "report.html")
    return Path(out_dir)
