"""DeepMedic (Kamnitsas 2017, as used by Jünger 2021): a 3D CNN with two pathways on one centre.

Hand-written from torch layers because neither MONAI nor torchvision has DeepMedic.

- Normal pathway: the full-resolution segment. Context pathway: a segment three times as wide,
  average-pooled by 3 (the "down-sampled by 3" input). Each pathway: eight 3x3x3 convolutions
  without padding, each followed by batch-norm and PReLU; residual connections add the output
  of layer k-2 to the output of layers 4, 6 and 8 (centre-cropped; missing channels are zeros,
  as in DeepMedic).
- The context pathway's output is up-sampled by repetition (x3) and centre-cropped to the
  normal pathway's output; both are concatenated and go through two fully connected layers
  (1x1x1 convolutions, batch-norm, PReLU) and a 1x1x1 prediction layer: layers 9, 10 and 11
  (Jünger et al., AJNR 2021). The prediction is a logit; its sigmoid is the lesion probability (applied by
  the Dice loss during training and by the inference).

Sizes: with eight valid convolutions a pathway's output is 16 voxels smaller than its input.
One input tensor carries both pathways: a cube of `input_size(output)` voxels centred on the
output block; the normal pathway reads its central `output + 16` voxels. A 25^3 training
segment (9^3 output) reads a 57^3 cube; a 45^3 inference segment (29^3 output) an 81^3 cube.
Receptive field: 17^3 voxels at full resolution, 51^3 through the context pathway.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

PAPER_WIDTHS = (30, 30, 40, 40, 40, 40, 50, 50)  # DeepMedic's default pathway widths
PAPER_FC_WIDTH = 150
SUBSAMPLE = 3
N_CONV = 8
SHRINK = 2 * N_CONV  # voxels lost by the valid 3x3x3 convolutions of one pathway
RESIDUAL_LAYERS = (4, 6, 8)


def low_res_output_size(output_size: int) -> int:
    """The context pathway's output (odd, so its centre is the block's centre) covering `output_size`."""
    size = -(-output_size // SUBSAMPLE)
    return size + 1 - size % 2


def input_size(output_size: int) -> int:
    """Side of the input cube that gives an `output_size` output block (odd output sizes only)."""
    if output_size < 1 or output_size % 2 == 0:
        raise ValueError(f"DeepMedic output blocks must have an odd side, got {output_size}")
    return SUBSAMPLE * (low_res_output_size(output_size) + SHRINK)


def normal_segment_size(output_size: int) -> int:
    """The normal (full-resolution) pathway's segment: 25 for a 9^3 output, 45 for 29^3."""
    return output_size + SHRINK


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central size^3 block of a (B, C, Z, Y, X) tensor."""
    starts = [(n - size) // 2 for n in x.shape[2:]]
    return x[:, :, starts[0]:starts[0] + size, starts[1]:starts[1] + size, starts[2]:starts[2] + size]


class ConvBlock(nn.Sequential):
    """Valid 3x3x3 convolution, batch-norm, PReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3):
        super().__init__(nn.Conv3d(in_channels, out_channels, kernel, bias=False),
                         nn.BatchNorm3d(out_channels), nn.PReLU(out_channels))


class Pathway(nn.Module):
    """Eight ConvBlocks with residual connections into the outputs of layers 4, 6 and 8."""

    def __init__(self, in_channels: int, widths):
        super().__init__()
        channels = [in_channels, *widths]
        self.layers = nn.ModuleList(ConvBlock(channels[i], channels[i + 1]) for i in range(len(widths)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for number, layer in enumerate(self.layers, start=1):
            y = layer(x)
            if number in RESIDUAL_LAYERS and number >= 3:
                skip = centre_crop(outputs[number - 3], y.shape[-1])  # output of layer number - 2
                if skip.shape[1] < y.shape[1]:
                    skip = F.pad(skip, (0, 0, 0, 0, 0, 0, 0, y.shape[1] - skip.shape[1]))
                y = y + skip[:, :y.shape[1]]
            outputs.append(y)
            x = y
        return x


class DeepMedic(nn.Module):
    """Input (B, C, N, N, N) with N = input_size(output); output logits (B, 1, output, output, output)."""

    def __init__(self, in_channels: int = 1, widths=PAPER_WIDTHS, context_widths=None, fc_width: int = PAPER_FC_WIDTH,
                 dropout: float = 0.0):
        super().__init__()
        widths = list(widths)
        context_widths = list(context_widths or widths)
        if len(widths) != N_CONV or len(context_widths) != N_CONV:
            raise ValueError(f"DeepMedic pathways have {N_CONV} convolutional layers")
        self.normal = Pathway(in_channels, widths)
        self.context = Pathway(in_channels, context_widths)
        self.fully_connected = nn.Sequential(
            nn.Dropout3d(dropout), ConvBlock(widths[-1] + context_widths[-1], fc_width, kernel=1),
            nn.Dropout3d(dropout), ConvBlock(fc_width, fc_width, kernel=1))
        self.prediction = nn.Conv3d(fc_width, 1, 1)

    @staticmethod
    def output_size_for(input_side: int) -> int:
        """The largest output block an input cube of `input_side` voxels gives."""
        low = input_side // SUBSAMPLE - SHRINK
        if input_side % SUBSAMPLE or low < 1 or low % 2 == 0:
            raise ValueError(f"DeepMedic input side must be 3 x (odd + {SHRINK}), got {input_side}")
        return SUBSAMPLE * low

    def forward(self, x: torch.Tensor, output_size: int | None = None) -> torch.Tensor:
        side = x.shape[-1]
        if x.shape[-3] != side or x.shape[-2] != side:
            raise ValueError(f"DeepMedic expects a cube, got {tuple(x.shape[2:])}")
        output_size = output_size or self.output_size_for(side)
        if input_size(output_size) != side:
            raise ValueError(f"an output of {output_size}^3 needs a {input_size(output_size)}^3 input, got {side}^3")
        normal = self.normal(centre_crop(x, normal_segment_size(output_size)))
        context = self.context(F.avg_pool3d(x, SUBSAMPLE))
        for dim in (2, 3, 4):
            context = context.repeat_interleave(SUBSAMPLE, dim=dim)
        features = torch.cat([normal, centre_crop(context, output_size)], dim=1)
        return self.prediction(self.fully_connected(features))


def fused_for_inference(model: DeepMedic) -> DeepMedic:
    """An evaluation copy with every batch-norm folded into its convolution (same outputs, fewer
    passes over the feature maps) in channels-last layout (faster 3D convolutions on CPUs)."""
    fused = copy.deepcopy(model).eval()
    for block in fused.modules():
        if isinstance(block, ConvBlock) and isinstance(block[1], nn.BatchNorm3d):
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
    return fused.to(memory_format=torch.channels_last_3d)


def build_deepmedic(in_channels: int = 1, widths=PAPER_WIDTHS, context_widths=None, fc_width: int = PAPER_FC_WIDTH,
                    dropout: float = 0.0) -> DeepMedic:
    return DeepMedic(in_channels, widths, context_widths, fc_width, dropout)
