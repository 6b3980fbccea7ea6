"""Who made the objects: the equipment attributes and the algorithm identification of each task's
model set (name, version, demo flag and notice), shared by the SEG, SR and Parametric Map writers."""

from __future__ import annotations

import highdicom as hd

from .. import __version__
from . import codes

MANUFACTURER = "BrainTumorAI"
MODEL_NAME = "BrainTumorAI research software"
DEVICE_SERIAL = "none"  # software: there is no device serial number (the attribute is required)
RESEARCH_NOTICE = "Research use only - not a medical device"  # no comma: SEG lists parameters as k=v,k=v


def equipment() -> dict:
    """The keyword arguments every highdicom object constructor takes for the equipment."""
    return {"manufacturer": MANUFACTURER, "manufacturer_model_name": MODEL_NAME,
            "software_versions": __version__, "device_serial_number": DEVICE_SERIAL}


def is_demo(model: dict | None) -> bool:
    return bool(model and model.get("demo"))


def model_parameters(task: str, model: dict | None) -> dict[str, str]:
    """Task, model set, its version and whether it is the demo set, as named text parameters."""
    model = model or {}
    parameters = {"task": task, "model set": str(model.get("name", "unknown")),
                  "model set version": str(model.get("version", "unknown")),
                  "demo weights": "yes" if is_demo(model) else "no", "intended use": RESEARCH_NOTICE}
    if model.get("notice"):
        parameters["notice"] = model["notice"]
    return parameters


def algorithm_sequence(task: str, model: dict | None) -> hd.AlgorithmIdentificationSequence:
    """For a SEG segment or a Parametric Map: the algorithm that made it."""
    return hd.AlgorithmIdentificationSequence(name=f"BrainTumorAI {task}", family=codes.ALGORITHM_FAMILY,
                                              version=__version__, source=MANUFACTURER,
                                              parameters=model_parameters(task, model))


def algorithm_identification(task: str, model: dict | None, **extra: str) -> hd.sr.AlgorithmIdentification:
    """For an SR measurement group: the same identification as TID 4019 content items, plus `extra`
    named parameters (e.g. the source of a cut-off)."""
    parameters = {**model_parameters(task, model), **{k.replace("_", " "): v for k, v in extra.items()}}
    return hd.sr.AlgorithmIdentification(name=f"BrainTumorAI {task}", version=__version__,
                                         parameters=[f"{key}: {value}" for key, value in parameters.items()])


def series_description(what: str, models: list[dict | None]) -> str:
    """A series description that says research use and, for demo sets, demo weights (LO: 64 chars)."""
    tag = "DEMO WEIGHTS" if any(is_demo(m) for m in models) else "RESEARCH"
    return f"BrainTumorAI {what} ({tag})"[:64]
