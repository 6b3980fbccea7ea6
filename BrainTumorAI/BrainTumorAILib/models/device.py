"""Device choice and the GPU out-of-memory fallback to the CPU."""

from __future__ import annotations

import warnings

import torch

from ..errors import InputError


class DeviceFallbackWarning(RuntimeWarning):
    """Work moved to the CPU because the GPU ran out of memory."""


def select_device(name: str = "auto") -> torch.device:
    """`auto`: CUDA when present, else CPU; `cpu`; `cuda` or `cuda:N` (InputError when absent)."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {name}: no CUDA GPU available (torch {torch.__version__}); use --device cpu or auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    raise InputError(f"unknown device {name!r}: use auto, cpu or cuda")


class DeviceRunner:
    """Run `fn(model, *tensors)` on a device; on GPU out-of-memory, warn and stay on the CPU.

    After a fallback `device` is the CPU for every later call (no retrying the GPU per slice
    or fold), and `fell_back` is True so the caller can record it (result.json "device").
    """

    def __init__(self, device="auto"):
        self.device = device if isinstance(device, torch.device) else select_device(device)
        self.fell_back = False

    def run(self, fn, model: torch.nn.Module, *tensors):
        try:
            return self._call(fn, model, tensors)
        except torch.cuda.OutOfMemoryError as error:
            if self.device.type == "cpu":
                raise
            reason = str(error).splitlines()[0] if str(error) else "out of memory"
        # Out of the except block: the exception's frames (holding GPU tensors) are released,
        # so emptying the cache really returns the memory.
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        warnings.warn(f"{self.device}: {reason}; continuing on the CPU (slower)", DeviceFallbackWarning, stacklevel=2)
        self.device, self.fell_back = torch.device("cpu"), True
        return self._call(fn, model, tensors)

    def _call(self, fn, model, tensors):
        return fn(model.to(self.device), *(t.to(self.device) for t in tensors))


def run_with_oom_fallback(fn, model: torch.nn.Module, *tensors, device="auto"):
    """One-off `DeviceRunner(device).run(fn, model, *tensors)`."""
    return DeviceRunner(device).run(fn, model, *tensors)
