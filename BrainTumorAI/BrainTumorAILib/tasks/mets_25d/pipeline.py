"""The `mets-25d` task wired for the runner: model set, T1CE-referenced preprocessing, fold
models' mean probability, threshold from the model card, lesions and their table."""

from __future__ import annotations

from . import method as mets_25d
from .method import PAPER_SEQUENCES
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
    output = lesion_output(mets_25d.TASK, maps, case, model_set, float(model_set.thresholds["probability"]),
                           shared=context.shared)
    output.result.update(channel_record(model_set.inputs, int(settings.get("context_slices", mets_25d.CONTEXT_SLICES))))
    if output.result["sequences_not_used"]:
        output.result["notes"].append(
            f"Grøvik 2020 used T1, T1CE, T2 and FLAIR ({len(PAPER_SEQUENCES) * mets_25d.SLICES} channels); this model "
            f"set uses {', '.join(model_set.inputs)} ({output.result['channels']} channels), not "
            f"{', '.join(output.result['sequences_not_used'])}")
    output.result["ensemble"] = settings.get("ensemble", "fold_mean" if len(models) > 1 else "single")
    return output


def channel_record(inputs, context: int) -> dict:
    """The network's input sequences, its channel count and the paper's sequences it lacks."""
    return {"inputs": list(inputs), "channels": len(inputs) * (2 * context + 1),
            "sequences_not_used": [s for s in PAPER_SEQUENCES if s not in inputs]}
