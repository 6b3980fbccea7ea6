"""The `gbm-met` task wired for the runner: model set, T2-referenced preprocessing, outputs."""

from __future__ import annotations

import SimpleITK as sitk

from ...networks import build_network
from ...preprocessing import to_input_grid
from . import method as gbm_met
from .cutoff import cutoff_source
from ..context import TaskContext, TaskOutput


def run(context: TaskContext) -> TaskOutput:
    model_set = context.registry.default_for(gbm_met.TASK)
    progress = context.progress
    case = context.preprocessed(model_set.preprocessing)
    progress.update(gbm_met.TASK, 0.5, "loading the fold models")
    models = [m.to(context.device) for m in model_set.load_folds(build_network)]
    progress.update(gbm_met.TASK, 0.6, f"classifying ROI slices with {len(models)} fold models")
    result, cam = gbm_met.predict(
        models, case.images, case.brain_mask, context.roi,
        input_size=int(model_set.preprocessing["input_size"]),
        cutoff=float(model_set.thresholds["predictive_index"]), device=context.device,
        t2_geometry=case.input_geometry["t2"], pixel_mm=model_set.preprocessing.get("section_pixel_mm"))
    result["cutoff_source"] = cutoff_source(model_set)
    result["model_set"] = model_set.name
    result["notice"] = model_set.notice
    # the contract: gbm-met images have exactly the T2 input's geometry; interpolation onto the
    # T2's thick voxels must not carry the map past the ROI as drawn
    cam_on_t2 = gbm_met.restrict_to_roi(to_input_grid(cam, case, sitk.sitkLinear, sequence="t2"), context.roi)
    return TaskOutput(result, {"gbm-met_cam.nii.gz": sitk.Cast(cam_on_t2, sitk.sitkFloat32)},
                      model_set=model_set.describe())
