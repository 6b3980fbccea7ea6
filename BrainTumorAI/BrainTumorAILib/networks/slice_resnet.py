"""2D ResNet-50 for ROI slices (Shin 2021): MONAI's ResNet with a dropout head.

Widths are a parameter so a reduced-width variant (same bottleneck topology, fewer channels)
can be bundled as demo weights; the paper's network is `widths=(64, 128, 256, 512)`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from monai.networks.nets import ResNet
from torch import nn

from ..errors import InputError
from ..models.weights import load_plain_torch_file

PAPER_WIDTHS = (64, 128, 256, 512)
RESNET50_LAYERS = [3, 4, 6, 3]


def build_slice_resnet50(in_channels: int = 3, num_classes: int = 2, widths=PAPER_WIDTHS,
                         dropout: float = 0.5) -> ResNet:
    """ResNet-50 topology; stride-2 stem and bias-free shortcuts so torchvision weights fit."""
    model = ResNet(
        block="bottleneck", layers=RESNET50_LAYERS, block_inplanes=list(widths), spatial_dims=2,
        n_input_channels=in_channels, conv1_t_size=7, conv1_t_stride=2, num_classes=num_classes,
        bias_downsample=False,
    )
    # Dropout before the classifier (Shin 2021); MONAI's CAM applies `fc` per position, which
    # works on this Sequential as in eval mode dropout is the identity.
    model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(model.fc.in_features, num_classes))
    return model


def freeze_backbone(model: ResNet) -> None:
    """Freeze every convolution and batch-norm, statistics included; only the head trains (Shin 2021).

    Parameters stop getting gradients, and every module outside the head is kept in eval mode,
    so batch-norm normalises with (and never updates) its ImageNet running statistics. The
    trainer calls `model.train()` each epoch, which would switch them back: a forward pre-hook
    puts them in eval mode again before every forward pass.
    """
    for name, parameter in model.named_parameters():
        parameter.requires_grad = name.startswith("fc.")
    frozen = [module for name, module in model.named_modules() if name and not name.startswith("fc")]

    def keep_frozen_in_eval(_module, _inputs):
        for module in frozen:
            module.eval()

    keep_frozen_in_eval(model, None)
    model.register_forward_pre_hook(keep_frozen_in_eval)


def load_torchvision_resnet50(model: ResNet, path: Path) -> list[str]:
    """Copy ImageNet weights from a local torchvision-format ResNet-50 state dict into `model`.

    torchvision names the layers as MONAI does, except the classifier (`fc` vs our `fc.1`),
    which is not copied: ImageNet has 1000 classes. Returns the copied keys.
    """
    state = load_plain_torch_file(path, f"pretrained weights {path}")
    if not isinstance(state, dict):
        raise InputError(f"pretrained weights {path}: not a torchvision state dict")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    copied = []
    for key, tensor in state.items():
        if key.startswith("fc."):
            continue
        if key not in own or own[key].shape != tensor.shape:
            raise InputError(
                f"pretrained weights {path}: layer {key} {tuple(tensor.shape)} does not fit this "
                f"network (expected {tuple(own[key].shape) if key in own else 'no such layer'}); "
                f"ImageNet weights need the paper widths {PAPER_WIDTHS} and 3 input channels"
            )
        own[key] = tensor
        copied.append(key)
    model.load_state_dict(own)
    return copied
