"""The shared vocabulary and the list of tasks, importable without torch (the Slicer panel reads it).

A clinical question is one package: a folder under `BrainTumorAILib/tasks/`, or a user's folder
named by a model set's `task_package` in a registry file. Its `__init__.py` defines `SPEC`, a
`TaskSpec` that carries every part of the task; the runner, the command line, training,
evaluation, the report and the panel read the spec and keep no per-task table of their own.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .errors import InputError

SEQUENCES = ("t1ce", "t2", "flair", "t1")
DEVICES = ("auto", "cuda", "cpu")
DEVICE_TITLES = {"auto": "Auto (GPU when available)", "cuda": "GPU (CUDA)", "cpu": "CPU"}
# The lesion table of lesions.csv, the report, the terminal and the panel, in lesions.csv's column
# order: (key, the report's column title, the terminal's short header, number format).
LESION_COLUMNS = (
    ("id", "Lesion", "id", ""), ("volume_mm3", "Volume (mm³)", "volume mm³", ".1f"),
    ("centroid_r", "R (mm)", "R", ".1f"), ("centroid_a", "A (mm)", "A", ".1f"), ("centroid_s", "S (mm)", "S", ".1f"),
    ("longest_diameter_mm", "Longest diameter (mm)", "diameter mm", ".1f"),
    ("max_probability", "Max probability", "max p", ".2f"), ("fold_agreement", "Fold agreement", "folds", ".0%"),
    ("location", "Location", "location", ""),
    ("found_by_other_method", "Found by the other method", "other", ""),  # both metastasis tasks ran
)
LESION_KEYS = tuple(key for key, _, _, _ in LESION_COLUMNS)
LESION_CSV_COLUMNS = ("task",) + LESION_KEYS


def number(value, spec: str = ".2f", unit: str = "") -> str:
    """A number formatted, or 'n/a' when the result does not carry it."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    return f"{value:{spec}}{unit}"


def flat_lesion(lesion: dict) -> dict:
    """A lesion with the flat centroid_r/a/s columns of lesions.csv (result.json has centroid_ras)."""
    if not lesion.get("centroid_ras"):
        return lesion
    return {**lesion, **dict(zip(("centroid_r", "centroid_a", "centroid_s"), lesion["centroid_ras"]))}


# How scanners, BraTS and BIDS name the sequences (volume names in the panel, SeriesDescription and
# ProtocolName of a DICOM study). Checked in this order: FLAIR before T2 (t2f, t2-flair) and
# contrast-enhanced T1 before native T1. A sequence token must not sit inside a longer word or
# number (so "t10" or "ht2" do not match).
_BEFORE = r"(?<![a-z0-9])"
_AFTER = r"(?![a-z0-9*])"
SEQUENCE_NAME_PATTERNS = tuple((sequence, re.compile(pattern)) for sequence, pattern in (
    ("flair", _BEFORE + r"(?:flair|t2[-_ ]?f)" + _AFTER),
    ("t1ce", _BEFORE + r"(?:t1w?[-_ ]?(?:\+[-_ ]?c|\+[-_ ]?gd|ce|c|gd|post|contrast)"
                       r"|ce-[a-z0-9]+_(?:[a-z0-9-]+_)*t1w)" + _AFTER),
    ("t2", _BEFORE + r"t2w?" + _AFTER),
    ("t1", _BEFORE + r"t1[nw]?" + _AFTER),
))


def find_sequence_token(name: str) -> tuple[str, tuple[int, int]] | None:
    """The sequence a name announces and the span of its token, or None."""
    lowered = name.lower()
    for sequence, pattern in SEQUENCE_NAME_PATTERNS:
        match = pattern.search(lowered)
        if match:
            return sequence, match.span()
    return None


def sequence_of_name(name: str) -> str | None:
    """The sequence a volume or series name announces (t1ce, t2, flair or t1), or None.

    Understands BraTS 2021/2023 suffixes (t1ce/t1c, t2/t2w, flair/t2f, t1/t1n), scanner-style
    names (T1+C, T1_Gd, T1 post contrast, T2 FLAIR) and BIDS contrast entities (ce-gd_T1w).
    """
    found = find_sequence_token(name)
    return found[0] if found else None


@dataclass(frozen=True)
class TaskSpec:
    """Everything about one clinical question. Parts that need torch are references
    ("module:attribute", the module relative to the task's package) loaded on first use, so
    reading the spec stays torch-free."""

    name: str
    title: str
    sequences: tuple[str, ...]           # required inputs
    needs_roi: bool
    outputs: tuple[str, ...]             # image kinds written as <task>_<kind>.nii.gz
    geometry_of: str                     # the input whose exact geometry the images have
    pipeline: str                        # run(TaskContext) -> TaskOutput
    verdict: Callable[[dict], str]       # the result.json entry in one line of words
    details: Callable[[dict], str] | None = None  # the report's section body (HTML) for the entry
    training_adapter: str | None = None  # a TaskAdapter class (`braintumorai train --task`)
    evaluator: str | None = None         # evaluate(task, pred_dir, truth, out_dir) -> report dict
    also_evaluates: tuple[str, ...] = ()  # other result lists its evaluator scores (`evaluate --task NAME`)
    networks: Mapping[str, str] = field(default_factory=dict)  # architecture name -> builder
    presets: Mapping[str, dict] = field(default_factory=dict)  # training presets, one per paper
    demo_set: str | None = None          # the `make weights` recipe (a dict)
    segment_type: str = "neoplasm"       # segment terminology (Slicer, DICOM SEG): neoplasm | metastatic_neoplasm
    lesion_masks: bool = False           # its seg image labels lesions by lesion-table id (follow-up reads them)
    # input -> {"slice": mm, "in_plane": mm}: the coarsest voxel the method was built for (input quality)
    resolution_mm: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # result.json entry keys a cohort's summary.csv lists beside the answer, as <task>_<key>
    summary_scores: tuple[str, ...] = ()
    package: str = ""                    # the task's package, filled in by `task_specs`

    def load(self, reference: str):
        """The object a "module:attribute" reference names (module relative to the task's package)."""
        module_name, _, attribute = reference.partition(":")
        return getattr(importlib.import_module(module_name, self.package), attribute)

    def part(self, kind: str):
        """The loaded `training_adapter`, `evaluator` or `demo_set`; InputError naming what the task lacks."""
        reference = getattr(self, kind)
        if reference is None:
            raise InputError(f"task {self.name} has no {kind.replace('_', ' ')}")
        return self.load(reference)


BUILTIN_PACKAGE = "BrainTumorAILib.tasks"
_SPECS: dict[str, TaskSpec] | None = None


def task_specs(refresh: bool = False) -> dict[str, TaskSpec]:
    """Every task: the built-in packages in name order, then the task packages that registry
    files name. Cached; `refresh` re-reads the registries (after a model set is registered)."""
    global _SPECS
    if _SPECS is None or refresh:
        specs = {}
        builtin = importlib.import_module(BUILTIN_PACKAGE)
        for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda i: i.name):
            if info.ispkg:
                _add(specs, importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}"))
        for folder in _registered_task_folders():
            _add(specs, import_task_folder(folder))
        _SPECS = specs
    return _SPECS


def task_spec(name: str) -> TaskSpec:
    specs = task_specs()
    if name not in specs:
        raise InputError(f"unknown task {name!r} (known: {', '.join(specs)})")
    return specs[name]


def verdict_line(task: str, entry: dict) -> str:
    """The task's answer in one line; a task the catalog does not know shows its label if any."""
    spec = task_specs().get(task)
    return spec.verdict(entry) if spec is not None else str(entry.get("label", "done"))


def network_builder(architecture: str) -> Callable:
    """The function that builds a registry architecture, from the task that declares it."""
    for spec in task_specs().values():
        if architecture in spec.networks:
            return spec.load(spec.networks[architecture])
    known = sorted(name for spec in task_specs().values() for name in spec.networks)
    raise InputError(f"unknown network architecture '{architecture}' (known: {', '.join(known)})")


def presets() -> dict[str, dict]:
    """Every task's training presets by name."""
    return {name: preset for spec in task_specs().values() for name, preset in spec.presets.items()}


def _add(specs: dict, module) -> None:
    spec = getattr(module, "SPEC", None)
    if spec is None:  # a shared package (e.g. the metastasis tasks' common code)
        return
    if not isinstance(spec, TaskSpec):
        raise InputError(f"task package {module.__name__}: SPEC is not a TaskSpec")
    if spec.name in specs:
        raise InputError(f"task {spec.name} is defined twice ({specs[spec.name].package}, {module.__name__})")
    specs[spec.name] = TaskSpec(**{**spec.__dict__, "package": module.__name__})


def _registered_task_folders() -> list[Path]:
    from .models.registry import ModelRegistry

    folders = []
    for model_set in ModelRegistry.load().model_sets():
        package = model_set.entry.get("task_package")
        if package and (model_set.base_dir / package).resolve() not in folders:
            folders.append((model_set.base_dir / package).resolve())
    return folders


def import_task_folder(folder: Path):
    """A user's task folder imported as a package (its modules may import each other relatively)."""
    init = folder / "__init__.py"
    if not init.is_file():
        raise InputError(f"task package {folder}: no __init__.py")
    name = f"braintumorai_task_{folder.name}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise InputError(f"task package {folder}: cannot import ({type(error).__name__}: {error})") from None
    return module
