"""One file per published network; `build_network` makes one from a registry architecture entry."""

from torch import nn

from ..errors import InputError
from .slice_resnet import build_slice_resnet50, freeze_backbone, load_torchvision_resnet50

NETWORKS = {"slice_resnet50": build_slice_resnet50}


def build_network(architecture) -> nn.Module:
    """A fresh network from an object with `name` and `config` (a registry architecture)."""
    if architecture.name not in NETWORKS:
        raise InputError(f"unknown network architecture '{architecture.name}' (known: {', '.join(NETWORKS)})")
    try:
        return NETWORKS[architecture.name](**architecture.config)
    except TypeError as exc:
        raise InputError(f"architecture {architecture.name}: bad configuration ({exc})") from None


__all__ = ["NETWORKS", "build_network", "build_slice_resnet50", "freeze_backbone", "load_torchvision_resnet50"]
