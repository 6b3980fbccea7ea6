"""The `mets-25d` task wired for the runner: model set, T1CE-referenced preprocessing, fold
models' mean probability, threshold from the model card, lesions and their table."""

from __future__ import annotations

from . import method as mets_25d
from ..context import TaskContext, TaskOutput
from ..metastases.common import lesion_output, load_task


def run(context: TaskContext) -> TaskOutput:
    model_set, case, models = load_task(context, mets_25d.TASK)
    progress = context.progress
    settings = model_set.preprocessing
    progress.update(mets_25d.TASK, 0.4, f"segmenting axial slices with {len(models)} GoogLeNet FCN fold models")
    maps = mets_25d.predict_maps(models, case, model_set.inputs, int(settings["image_size"]), context.device,
                                 int(settings.get("context_slices", mets_25d.CONTEXT_SLICES)),
                                 float(settings.get("window_margin_mm", mets_25d.WINDOW_MARGIN_MM)))
    progress.update(mets_25d.TASK, 0.85, "threshold, lesions and their table")
    output = lesion_output(mets_25d.TASK, maps, case, model_set, float(model_set.thresholds["probability"]))
    output.result["inputs"] = list(model_set.inputs)
    return output
