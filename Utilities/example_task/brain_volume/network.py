"""The example's network: one 1x1x1 convolution and a sigmoid, a voxel-wise intensity threshold."""

from torch import nn


def build(in_channels: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv3d(in_channels, 1, kernel_size=1), nn.Sigmoid())
