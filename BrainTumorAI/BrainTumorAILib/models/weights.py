"""Save and load network weights without executing code: safetensors, or torch.load(weights_only=True).

Loading checks the SHA-256 of the bytes before parsing them and checks every key and shape
against the network before copying anything, so a tampered or wrong file loads nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save_file

from ..errors import InputError
from .atomic import atomic_path
from .checksum import sha256_file

SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIXES = (".pt", ".pth")
METADATA_KEY = "braintumorai"


def save_weights(model: torch.nn.Module, path, metadata: dict | None = None) -> str:
    """Write the model's state dict as safetensors (atomically) and return the file's SHA-256.

    `metadata` is stored as one sorted JSON string: safetensors keeps a str -> str map whose
    order varies between runs, which would make identical weights hash differently.
    """
    path = Path(path)
    if path.suffix != SAFETENSORS_SUFFIX:
        raise ValueError(f"weights are saved as safetensors: {path.name} must end in {SAFETENSORS_SUFFIX}")
    # Cloning breaks storage sharing (tied weights), which safetensors refuses to write.
    state = {key: value.detach().cpu().contiguous().clone() for key, value in model.state_dict().items()}
    text_metadata = {METADATA_KEY: json.dumps(metadata or {}, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=text_metadata)
    return sha256_file(path)


def weights_metadata(path) -> dict:
    """The metadata stored by `save_weights`."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return json.loads((handle.metadata() or {}).get(METADATA_KEY, "{}"))
    except (SafetensorError, OSError) as error:
        raise InputError(f"weights {Path(path).name}: cannot read safetensors header ({error})") from error


def load_weights(model: torch.nn.Module, path, expected_sha256: str) -> torch.nn.Module:
    """Load weights into `model` after checking the file's SHA-256 and that it fits the network.

    Raises InputError, leaving `model` untouched, on a missing file, a checksum mismatch, a
    file that is not plain tensors, or keys/shapes that do not match the architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights {path}: file not found")
    # One read: the bytes that are hashed are the bytes that are parsed.
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256.lower():
        raise InputError(f"weights {path.name}: SHA-256 mismatch (tampered or corrupt file)")
    state = _parse_state_dict(data, path)
    _check_fits(model, state, path)
    model.load_state_dict(state, strict=True)
    return model


def load_plain_torch_file(source, what: str):
    """`torch.load(weights_only=True)` of a file or bytes; InputError in one line naming `what` otherwise.

    torch's own message is several lines and suggests `weights_only=False`, the one step that
    would run the file's code: it is never shown, only the global the file would have called.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return torch.load(stream, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as error:
        code = re.search(r"Unsupported global: GLOBAL (\S+?)(?: was not|\s|$)", str(error))
        if code or isinstance(error, pickle.UnpicklingError):
            called = f" (unpickling it would call {code.group(1)})" if code else ""
            raise InputError(f"{what}: refused, the file holds more than plain tensors{called}; only safetensors "
                             f"or weights-only torch files are loaded") from None
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{what}: unreadable ({reason})") from None


def _parse_state_dict(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == SAFETENSORS_SUFFIX:
        try:
            return load_safetensors_bytes(data)
        except (SafetensorError, ValueError) as error:
            raise InputError(f"weights {path.name}: not a valid safetensors file ({error})") from error
    if path.suffix in TORCH_SUFFIXES:
        loaded = load_plain_torch_file(data, f"weights {path.name}")
        state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise InputError(f"weights {path.name}: not a state dict of tensors")
        return state
    raise InputError(f"weights {path.name}: unknown format (expected {SAFETENSORS_SUFFIX}, .pt or .pth)")


def _check_fits(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Compare every key and shape before copying, so a partial load can never happen."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
                   for key in expected if key in state and state[key].shape != expected[key].shape]
    problems = [f"{label}: {_first(items)}" for label, items in
                (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch (file vs network)", wrong_shape))
                if items]
    if problems:
        raise InputError(f"weights {path.name}: wrong architecture for {type(model).__name__}: " + "; ".join(problems))


def _first(items: list[str], shown: int = 3) -> str:
    more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
