"""One follow-up study from its folder: its date, its T1CE and its lesion labels.

A study folder is one of:
- a `run` output (result.json): lesions from `<task>_seg.nii.gz`, the T1CE from result.json's
  `input_files` (or a `t1ce` image beside the results);
- a folder with a `t1ce` image and a lesion mask `lesions` (any image format; binary or
  labelled, e.g. a reader's or another tool's segmentation);
- a folder of inputs (`t1ce`, optionally `flair`, `t2`, `t1`, as `braintumorai synth` writes
  them): it is run first (runner.run_case, the segmentation task only) and the run is kept.
Masks are relabelled into connected lesions (tasks.metastases.lesions.label_components), so every source
means the same by "a lesion".
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from ..catalog import SEQUENCES, task_specs
from ..errors import InputError
from ..image import IMAGE_SUFFIXES, read_image
from ..tasks.metastases.lesions import label_components
from .clinical import parse_date



def segmentation_tasks() -> list[str]:
    """Tasks whose lesion masks follow-up can use, preferred first (catalog order)."""
    return [name for name, spec in task_specs().items() if spec.lesion_masks]


@dataclass
class Study:
    date: datetime.date
    folder: Path
    t1ce: sitk.Image
    labels: sitk.Image | None  # lesion ids (connected components); None until a pending run is done
    source: str                # where the lesions came from, in words
    inputs: dict | None = None  # the input images, when the study still has to be run
    input_files: dict | None = None  # their paths, for the run's result.json


def parse_study(option: str) -> tuple[datetime.date, Path]:
    """`DATE=DIR` of a --study option."""
    date, separator, folder = option.partition("=")
    if not separator or not folder:
        raise InputError(f"--study takes DATE=DIR (e.g. 2026-03-01=runs/march), got {option!r}")
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"study {date}: folder not found: {path}")
    return parse_date(date), path


def find_image(folder: Path, stem: str) -> Path | None:
    """`<folder>/<stem>.<image suffix>` (or a DICOM folder named `stem`), if there is one."""
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        if name == stem or any(name == stem + suffix for suffix in IMAGE_SUFFIXES):
            return path
    return None


def _from_run(date, folder: Path, task: str | None) -> Study:
    result = json.loads((folder / "result.json").read_text())
    tasks = [task] if task else [t for t in segmentation_tasks() if t in result.get("tasks", {})]
    seg = next((folder / f"{t}_seg.nii.gz" for t in tasks if (folder / f"{t}_seg.nii.gz").is_file()), None)
    if seg is None:
        wanted = task or " or ".join(segmentation_tasks())
        raise InputError(f"study {date}: the run in {folder} has no lesion segmentation ({wanted}_seg.nii.gz)")
    t1ce_path = find_image(folder, "t1ce") or result.get("input_files", {}).get("t1ce")
    if t1ce_path is None or not Path(t1ce_path).exists():
        raise InputError(f"study {date}: cannot find the T1CE of the run in {folder} (result.json has no "
                         "input_files.t1ce and there is no t1ce image beside it): give its inputs' folder instead")
    used = seg.name.removesuffix("_seg.nii.gz")
    return Study(date=date, folder=folder, t1ce=read_image(t1ce_path, f"study {date} t1ce"),
                 labels=label_components(read_image(seg, f"study {date} {used} segmentation")),
                 source=f"run output ({used})")


def load_study(date: datetime.date, folder: Path, task: str | None = None) -> Study:
    """The study in `folder` (see the module's docstring); raises InputError naming what is missing."""
    if (folder / "result.json").is_file():
        return _from_run(date, folder, task)
    t1ce_path = find_image(folder, "t1ce")
    if t1ce_path is None:
        raise InputError(f"study {date}: {folder} is neither a run output (result.json) nor a folder "
                         "with a t1ce image")
    t1ce = read_image(t1ce_path, f"study {date} t1ce")
    mask_path = find_image(folder, "lesions")
    if mask_path is not None:
        return Study(date=date, folder=folder, t1ce=t1ce, source=f"lesion mask {mask_path.name}",
                     labels=label_components(read_image(mask_path, f"study {date} lesion mask")))
    files = {name: find_image(folder, name) for name in SEQUENCES}
    files = {name: path for name, path in files.items() if path is not None}
    inputs = {name: t1ce if name == "t1ce" else read_image(path, f"study {date} {name}") for name, path in files.items()}
    return Study(date=date, folder=folder, t1ce=t1ce, labels=None, source="run here", inputs=inputs,
                 input_files={name: str(path.resolve()) for name, path in files.items()})


def run_task_for(study: Study, task: str | None) -> str:
    """The segmentation task to run on a study's inputs: the one asked for, else the first whose inputs exist."""
    if task:
        return task
    candidates = segmentation_tasks()
    return next((t for t in candidates if all(s in study.inputs for s in task_specs()[t].sequences)), candidates[-1])
