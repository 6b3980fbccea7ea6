"""One file per published network; `build_network` makes one from a registry architecture entry."""

from torch import nn

from ..errors import InputError
from .deepmedic import build_deepmedic
from .slice_resnet import build_slice_resnet50, freeze_backbone, load_torchvision_resnet50
from .googlenet_fcn import build_googlenet_fcn
from .tumour_type_cnn import build_tumour_type_cnn

NETWORKS = {"slice_resnet50": build_slice_resnet50, "tumour_type_cnn": build_tumour_type_cnn}
NETWORKS["deepmedic"] = build_deepmedic
NETWORKS["googlenet_fcn"] = build_googlenet_fcn


def build_network(architecture) -> nn.Module:
    """A fresh network from an object with `name` and `config` (a registry architecture)."""
    if architecture.name not in NETWORKS:
        raise InputError(f"unknown network architecture '{architecture.name}' (known: {', '.join(NETWORKS)})")
    try:
        return NETWORKS[architecture.name](**architecture.config)
    except TypeError as exc:
        raise InputError(f"architecture {architecture.name}: bad configuration ({exc})") from None


__all__ = ["NETWORKS", "build_deepmedic", "build_googlenet_fcn", "build_network", "build_slice_resnet50", "build_tumour_type_cnn", "freeze_backbone", "load_torchvision_resnet50"]
