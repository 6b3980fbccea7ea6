"""Model platform: registry of model sets, model cards, safe weights, verified downloads, devices.

Bundled weights are demo weights trained on synthetic phantoms: `ModelSet.demo` and
`ModelSet.notice` (also in the card and in `ModelSet.describe()`) say so wherever output is shown.
"""

from .card import DEMO_NOTICE, card_mismatches, load_card, write_card
from .device import DeviceFallbackWarning, DeviceRunner, run_with_oom_fallback, select_device
from .download import cached_path, download
from .locations import cache_dir, models_dir, user_registry_path
from .registry import Architecture, ModelRegistry, ModelSet, WeightFile
from .weights import load_weights, save_weights, sha256_file, weights_metadata

__all__ = [
    "DEMO_NOTICE", "Architecture", "DeviceFallbackWarning", "DeviceRunner", "ModelRegistry", "ModelSet",
    "WeightFile", "cache_dir", "cached_path", "card_mismatches", "download", "load_card", "load_weights",
    "models_dir", "run_with_oom_fallback", "save_weights", "select_device", "sha256_file",
    "user_registry_path", "weights_metadata", "write_card",
]
