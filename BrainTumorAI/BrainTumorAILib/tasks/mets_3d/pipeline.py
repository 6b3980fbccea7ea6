"""The `mets-3d` task wired for the runner: model set, T1CE-referenced preprocessing, DeepMedic
folds, majority vote, lesion table and images on the T1CE input's grid."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from . import method as mets_3d
from ..context import TaskContext, TaskOutput
from ..metastases.common import lesion_output, load_task


def run(context: TaskContext) -> TaskOutput:
    model_set, case, models = load_task(context, mets_3d.TASK)
    progress = context.progress
    volume = np.stack([sitk.GetArrayFromImage(case.images[name]) for name in model_set.inputs]).astype(np.float32)
    brain = sitk.GetArrayFromImage(case.brain_mask) > 0
    progress.update(mets_3d.TASK, 0.4, f"segmenting with {len(models)} DeepMedic fold models")
    segment = int(model_set.preprocessing.get("segment_size", mets_3d.DEFAULT_SEGMENT))
    maps = mets_3d.predict_maps(models, volume, brain, segment, context.device)
    progress.update(mets_3d.TASK, 0.85, "fold vote, lesions and their table")
    return lesion_output(mets_3d.TASK, maps, case, model_set, float(model_set.thresholds["probability"]),
                           shared=context.shared)
