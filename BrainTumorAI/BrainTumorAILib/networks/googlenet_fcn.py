"""2.5D GoogLeNet FCN for brain metastases (Grøvik et al., JMRI 2020).

Inception v1 made fully convolutional: stride 1 on the first 7x7 convolution, the first and
third max-pools removed (total down-sampling 4 instead of 32), and the average pool, dropout and
classifier replaced by one transposed convolution (kernel 8, stride 4) to a single logit per
pixel. Input: 7 adjacent axial slices of each sequence stacked as channels.

Hand-written from torch parts: MONAI has no GoogLeNet / Inception, and torchvision (which has
one) has no CPU build here; its classifier-shaped network would need the same surgery anyway.
As in torchvision's GoogLeNet, every convolution is followed by batch-norm and ReLU (the 2014
paper used local response normalisation); the "5x5" branch keeps the paper's 5x5 kernel.
`width` scales every channel count, so demo weights can use a reduced-width network of the
same topology; `width=1.0` is the published network.
"""

from __future__ import annotations

import torch
from torch import nn

# Inception v1 (Szegedy 2014, table 1): per module, the 1x1 branch, 3x3 reduce and 3x3,
# 5x5 reduce and 5x5, and pool-projection widths.
INCEPTION_WIDTHS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
STEM_WIDTHS = (64, 64, 192)  # 7x7 conv, 1x1 reduce, 3x3 conv
DOWNSAMPLING = 4  # the second and fourth max-pools are kept, each halves the image
MIN_CHANNELS = 2
PRIOR_LOGIT = -4.0  # initial logit of every pixel: sigmoid(-4) = 0.018


def scaled(channels: int, width: float) -> int:
    return max(MIN_CHANNELS, int(round(channels * width)))


class ConvBlock(nn.Sequential):
    """Convolution (size-preserving padding), batch-norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Inception(nn.Module):
    """Four parallel branches concatenated: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max-pool -> 1x1."""

    def __init__(self, in_channels: int, widths: tuple[int, ...]):
        super().__init__()
        one, reduce3, three, reduce5, five, pool = widths
        self.branch1 = ConvBlock(in_channels, one, 1)
        self.branch3 = nn.Sequential(ConvBlock(in_channels, reduce3, 1), ConvBlock(reduce3, three, 3))
        self.branch5 = nn.Sequential(ConvBlock(in_channels, reduce5, 1), ConvBlock(reduce5, five, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvBlock(in_channels, pool, 1))
        self.out_channels = one + three + five + pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2, padding=1)  # halves an even size exactly


class GoogLeNetFCN(nn.Module):
    """(N, in_channels, H, W) -> one logit per pixel (N, 1, H, W); H and W multiples of 4."""

    def __init__(self, in_channels: int = 28, width: float = 1.0, dropout: float = 0.4):
        super().__init__()
        stem = [scaled(c, width) for c in STEM_WIDTHS]
        modules = {name: tuple(scaled(c, width) for c in widths) for name, widths in INCEPTION_WIDTHS.items()}
        self.stem = nn.Sequential(
            ConvBlock(in_channels, stem[0], 7),  # stride 1 (the paper's network: 2), no max-pool after it
            ConvBlock(stem[0], stem[1], 1),
            ConvBlock(stem[1], stem[2], 3),
            _pool(),  # second max-pool: kept
        )
        channels, stages = stem[2], []
        for name in INCEPTION_WIDTHS:
            if name == "5a":
                stages.append(_pool())  # fourth max-pool: kept (the third, before 4a, is removed)
            block = Inception(channels, modules[name])
            stages.append(block)
            channels = block.out_channels
        self.inception = nn.Sequential(*stages)
        self.dropout = nn.Dropout2d(dropout)
        # One transposed convolution undoes the 4x down-sampling exactly: (n - 1) * 4 - 2 * 2 + 8 = 4n.
        self.up = nn.ConvTranspose2d(channels, 1, kernel_size=8, stride=DOWNSAMPLING, padding=2)
        # Start from "lesions are rare" (RetinaNet's prior initialisation): otherwise the first
        # epochs only learn that almost every pixel is background.
        nn.init.constant_(self.up.bias, PRIOR_LOGIT)
        self.in_channels = in_channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last inception module's output, at 1/4 of the input size."""
        return self.inception(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % DOWNSAMPLING or x.shape[-2] % DOWNSAMPLING:
            raise ValueError(f"GoogLeNetFCN needs height and width divisible by {DOWNSAMPLING}, "
                             f"got {tuple(x.shape[-2:])}")
        # Channels-last runs these many thin convolutions about twice as fast on a CPU (measured:
        # 0.11 vs 0.25 s a 128-pixel slice at width 0.125, one thread) and gives the same numbers.
        return self.up(self.dropout(self.features(x.contiguous(memory_format=torch.channels_last))))


def build_googlenet_fcn(in_channels: int = 28, width: float = 1.0, dropout: float = 0.4) -> GoogLeNetFCN:
    return GoogLeNetFCN(in_channels=in_channels, width=width, dropout=dropout)
