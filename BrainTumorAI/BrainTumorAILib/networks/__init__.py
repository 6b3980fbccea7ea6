"""One file per published network; `build_network` makes one from a registry architecture entry.

Which architecture names exist is up to the tasks: each task's spec maps its names to builders.
"""

from torch import nn

from ..catalog import network_builder
from ..errors import InputError
from .deepmedic import build_deepmedic
from .slice_resnet import build_slice_resnet50, freeze_backbone, load_torchvision_resnet50
from .googlenet_fcn import build_googlenet_fcn
from .tumour_type_cnn import build_tumour_type_cnn


def build_network(architecture) -> nn.Module:
    """A fresh network from an object with `name` and `config` (a registry architecture)."""
    build = network_builder(architecture.name)
    try:
        return build(**architecture.config)
    except TypeError as exc:
        raise InputError(f"architecture {architecture.name}: bad configuration ({exc})") from None


__all__ = ["build_deepmedic", "build_googlenet_fcn", "build_network", "build_slice_resnet50", "build_tumour_type_cnn",
           "freeze_backbone", "load_torchvision_resnet50"]
