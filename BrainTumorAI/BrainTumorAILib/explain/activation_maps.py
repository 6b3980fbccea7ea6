"""Ensemble class-activation maps from MONAI's CAM or Grad-CAM.

MONAI's default normaliser maps (min, max) to (1, 0), inverting the map (measured with MONAI 1.6), so the
raw maps are taken with an identity post-processing and scaled here.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from monai.visualize import CAM, GradCAM


def _identity(x):
    return x


@contextmanager
def _hooks_removed_after(model: torch.nn.Module):
    """Remove the hooks that MONAI's CAM/GradCAM register (it never removes them), so a model
    kept across cases (a batch worker's fold cache) does not gather one more hook per case."""
    before = {id(m): (set(m._forward_hooks), set(m._backward_hooks)) for m in model.modules()}
    try:
        yield
    finally:
        for module in model.modules():
            forward, backward = before.get(id(module), (set(), set()))
            for key in set(module._forward_hooks) - forward:
                del module._forward_hooks[key]
            for key in set(module._backward_hooks) - backward:
                del module._backward_hooks[key]


def ensemble_cam(models, inputs: torch.Tensor, class_index: torch.Tensor, method: str = "cam",
                 target_layer: str = "layer4", fc_layer: str = "fc") -> np.ndarray:
    """Mean activation map of `class_index` (one class per sample) over the models' maps.

    Returns an array shaped like `inputs` without the channel axis, negative evidence set to 0.
    """
    maps = []
    for model in models:
        model.eval()
        device = next(model.parameters()).device
        with _hooks_removed_after(model), torch.set_grad_enabled(method != "cam"):
            if method == "cam":
                explainer = CAM(nn_module=model, target_layers=target_layer, fc_layers=fc_layer,
                                postprocessing=_identity)
            else:
                explainer = GradCAM(nn_module=model, target_layers=target_layer, postprocessing=_identity)
            cam = explainer(inputs.to(device), class_idx=class_index.to(device))
        maps.append(cam.detach().cpu().numpy()[:, 0])
    return np.clip(np.mean(maps, axis=0), 0, None)


def normalise_unit(volume: np.ndarray) -> np.ndarray:
    """Scale a non-negative map to 0-1 by its maximum (all zero stays zero)."""
    peak = float(volume.max()) if volume.size else 0.0
    return (volume / peak).astype(np.float32) if peak > 0 else np.zeros_like(volume, dtype=np.float32)
