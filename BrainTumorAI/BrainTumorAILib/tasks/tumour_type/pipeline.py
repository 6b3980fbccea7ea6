"""The `tumour-type` task wired for the runner: model set, T1CE-referenced preprocessing, outputs."""

from __future__ import annotations

from ...errors import InputError
from ...networks import build_network
from . import method as tumour_type
from ..context import TaskContext, TaskOutput


def run(context: TaskContext) -> TaskOutput:
    model_set = context.registry.default_for(tumour_type.TASK)
    if tuple(model_set.classes) != tumour_type.CLASSES:
        raise InputError(f"model set {model_set.name}: classes {model_set.classes} are not "
                         f"{', '.join(tumour_type.CLASSES)} in that order")
    progress = context.progress
    case = context.preprocessed(model_set.preprocessing)
    progress.update(tumour_type.TASK, 0.5, "loading the fold models")
    models = [m.to(context.device) for m in model_set.load_folds(build_network)]
    progress.update(tumour_type.TASK, 0.6, f"classifying the T1CE with {len(models)} fold models and Grad-CAM")
    result, cam = tumour_type.predict(models, case, tumour_type.InputGrid.from_settings(model_set.preprocessing),
                                      context.device)
    result["model_set"] = model_set.name
    result["notice"] = model_set.notice
    # the contract: tumour-type images have exactly the T1CE input's geometry
    return TaskOutput(result, {"tumour-type_cam.nii.gz": cam}, model_set=model_set.describe())
