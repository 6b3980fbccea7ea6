"""The example's pipeline: the T1CE as given, each fold model's voxel probabilities, their mean."""

import numpy as np
import SimpleITK as sitk
import torch

from BrainTumorAILib.image import copy_geometry, voxel_volume_mm3
from BrainTumorAILib.networks import build_network
from BrainTumorAILib.tasks.context import TaskContext, TaskOutput

from . import SPEC


def run(context: TaskContext) -> TaskOutput:
    model_set = context.registry.default_for(SPEC.name)
    t1ce = context.images["t1ce"]
    array = sitk.GetArrayFromImage(t1ce).astype(np.float32)
    scaled = torch.from_numpy(array / max(float(array.max()), 1e-6))[None, None].to(context.device)
    with torch.inference_mode():
        probability = np.mean([m.to(context.device)(scaled)[0, 0].cpu().numpy()
                               for m in model_set.load_folds(build_network)], axis=0)
    mask = (probability >= model_set.thresholds["probability"]).astype(np.uint8)
    volume_ml = float(mask.sum()) * voxel_volume_mm3(t1ce) / 1000.0
    result = {"label": "measured", "volume_ml": round(volume_ml, 3), "model_set": model_set.name,
              "notice": model_set.notice}
    return TaskOutput(result, {f"{SPEC.name}_seg.nii.gz": copy_geometry(mask, t1ce)},
                      model_set=model_set.describe())
