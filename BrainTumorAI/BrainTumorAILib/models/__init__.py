"""Model platform: registry of model sets, model cards, safe weights, verified downloads, devices.

Bundled weights are demo weights trained on synthetic phantoms: `ModelSet.demo` and
`ModelSet.notice` (also in the card and in `ModelSet.describe()`) say so wherever output is shown.

Reading the registry and the cards imports no torch (the Slicer panel reads them in Slicer's GUI
process); the weight and device helpers, which need torch, are imported on first use.
"""

import importlib

from .card import DEMO_NOTICE, card_mismatches, load_card, write_card
from .checksum import sha256_file
from .download import cached_path, download
from .locations import cache_dir, models_dir, user_registry_path
from .registry import Architecture, ModelRegistry, ModelSet, WeightFile

_NEEDS_TORCH = {
    "load_weights": ".weights", "save_weights": ".weights", "weights_metadata": ".weights",
    "DeviceFallbackWarning": ".device", "DeviceRunner": ".device", "run_with_oom_fallback": ".device",
    "select_device": ".device",
}


def __getattr__(name: str):
    if name in _NEEDS_TORCH:
        return getattr(importlib.import_module(_NEEDS_TORCH[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEMO_NOTICE", "Architecture", "DeviceFallbackWarning", "DeviceRunner", "ModelRegistry", "ModelSet",
    "WeightFile", "cache_dir", "cached_path", "card_mismatches", "download", "load_card", "load_weights",
    "models_dir", "run_with_oom_fallback", "save_weights", "select_device", "sha256_file",
    "user_registry_path", "weights_metadata", "write_card",
]
