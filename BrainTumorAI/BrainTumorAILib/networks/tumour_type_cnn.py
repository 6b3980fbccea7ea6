"""3D CNN for the seven tumour types (Chakrabarty 2021) from MONAI blocks.

Each stage is a convolutional block (3x3x3 convolution, instance normalisation, ReLU; stride 2
from the first stage on, so every stage halves the grid) followed by a context block (MONAI's
residual UnetResBlock: two convolutions with instance normalisation and ReLU, dropout between
them). Global average pooling and one linear layer give the class scores; `forward` returns
logits (the loss and the task apply the softmax). Widths are a parameter so a reduced-width
variant can be bundled as demo weights; `stem_stride` 2 halves the grid in the first stage
too, and `cam_stage` picks the stage whose output Grad-CAM reads (the last by default).
`pooling` "average_and_max" (not in Chakrabarty 2021) gives the classifier the global maximum of
each feature beside its mean, so a few small foci (metastases of a few voxels) are not averaged
away over the whole head; `pooled_stages` (default: the last) names the stages whose pooled
features are joined for the classifier, so a finer stage's peaks can reach it too.

`lesion_stage` (not in Chakrabarty 2021) adds a 1x1x1 convolution that maps that stage's
features to lesion logits. In training mode `forward` then returns (class logits, lesion
logits) so the loss can supervise where lesions are, which the network otherwise learns only
from hundreds of cases; in eval mode, and so at inference, it returns the class logits alone.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from monai.networks.blocks import Convolution, UnetResBlock
from torch import nn

N_CLASSES = 7  # hgg, lgg, metastasis, meningioma, pituitary, schwannoma, healthy
DEFAULT_WIDTHS = (16, 32, 64, 128, 256)  # the summary gives no widths: a full-size guess
POOLINGS = ("average", "average_and_max")


def stage_index(index: int, n_stages: int, option: str) -> int:
    """`index` (negative counts from the last stage) as a stage number; ValueError naming `option` if none."""
    if not -n_stages <= int(index) < n_stages:
        raise ValueError(f"{option} {index} names no stage (the network has {n_stages})")
    return range(n_stages)[int(index)]


class TumourTypeCNN(nn.Module):
    """Stages of [convolutional block, context block], global pooling, linear classifier."""

    def __init__(self, in_channels: int = 1, num_classes: int = N_CLASSES, widths=DEFAULT_WIDTHS,
                 dropout: float = 0.3, norm: str = "instance", stem_stride: int = 1, cam_stage: int = -1,
                 lesion_stage: int | None = None, pooling: str = "average", pooled_stages=(-1,)):
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one stage")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
        stages, channels = [], in_channels
        for index, width in enumerate(widths):
            stride = stem_stride if index == 0 else 2
            stages.append((f"stage{index}", nn.Sequential(OrderedDict(
                conv=Convolution(3, channels, width, strides=stride, kernel_size=3, act="RELU", norm=norm),
                context=UnetResBlock(3, width, width, kernel_size=3, stride=1, norm_name=norm, act_name="relu",
                                     dropout=dropout or None),
            ))))
            channels = width
        self.features = nn.Sequential(OrderedDict(stages))
        self.pools = nn.ModuleList([nn.AdaptiveAvgPool3d(1)]
                                   + ([nn.AdaptiveMaxPool3d(1)] if pooling == "average_and_max" else []))
        self.pooled_stages = sorted({stage_index(stage, len(widths), "pooled_stages") for stage in pooled_stages})
        self.classifier = nn.Linear(sum(widths[stage] for stage in self.pooled_stages) * len(self.pools), num_classes)
        self.cam_layer = f"features.stage{stage_index(cam_stage, len(widths), 'cam_stage')}"  # for MONAI's GradCAM
        self.lesion_stage = None if lesion_stage is None else stage_index(lesion_stage, len(widths), "lesion_stage")
        self.lesion_head = None if lesion_stage is None else nn.Conv3d(widths[self.lesion_stage], 1, kernel_size=1)
        # oneDNN runs 3D convolutions several times faster on CPU in channels-last order (measured).
        self.to(memory_format=torch.channels_last_3d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last_3d)
        lesion_features, pooled = None, []
        for index, stage in enumerate(self.features):
            x = stage(x)
            if index == self.lesion_stage:
                lesion_features = x
            if index in self.pooled_stages:
                pooled += [torch.flatten(pool(x), 1) for pool in self.pools]
        logits = self.classifier(torch.cat(pooled, dim=1))
        if self.training and self.lesion_head is not None:
            return logits, self.lesion_head(lesion_features)
        return logits


def build_tumour_type_cnn(in_channels: int = 1, num_classes: int = N_CLASSES, widths=DEFAULT_WIDTHS,
                          dropout: float = 0.3, norm: str = "instance", stem_stride: int = 1,
                          cam_stage: int = -1, lesion_stage: int | None = None,
                          pooling: str = "average", pooled_stages=(-1,)) -> TumourTypeCNN:
    return TumourTypeCNN(in_channels, num_classes, tuple(widths), dropout, norm, stem_stride, cam_stage, lesion_stage,
                         pooling, tuple(pooled_stages))
