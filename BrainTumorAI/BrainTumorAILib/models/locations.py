"""Where the model registry, its schemas and the per-user cache live."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError

MODELS_ENV = "BRAINTUMORAI_MODELS"
CACHE_ENV = "BRAINTUMORAI_CACHE"
_RESOURCES = Path("Resources") / "models"


def _find_upwards(relative: Path) -> Path | None:
    """First `<ancestor>/<relative>` above this package, so the repository checkout and the
    installed Slicer module (Resources beside the module's packages) both work."""
    for folder in Path(__file__).resolve().parents:
        if (folder / relative).is_file():
            return folder / relative
    return None


def models_dir() -> Path:
    """Folder of the bundled registry: $BRAINTUMORAI_MODELS, else Resources/models found upwards."""
    override = os.environ.get(MODELS_ENV)
    if override:
        folder = Path(override).expanduser()
        if not (folder / "registry.json").is_file():
            raise InputError(f"{MODELS_ENV}={override}: no registry.json in that folder")
        return folder
    found = _find_upwards(_RESOURCES / "registry.json")
    if found is None:
        raise InputError(
            f"model registry not found: no Resources/models/registry.json above {Path(__file__).parent}; "
            f"set {MODELS_ENV} to the folder that holds registry.json")
    return found.parent


def schema_path(name: str) -> Path:
    """A JSON schema shipped in Resources/models (found from the package, not from the override,
    so a user registry folder needs no copy of the schemas)."""
    found = _find_upwards(_RESOURCES / name)
    if found is None:
        raise InputError(f"schema {name} not found in Resources/models above {Path(__file__).parent}")
    return found


def cache_dir() -> Path:
    """Per-user cache: $BRAINTUMORAI_CACHE, else $XDG_CACHE_HOME/braintumorai, else ~/.cache/braintumorai."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "braintumorai"


def user_registry_path() -> Path:
    """The per-user registry (model sets a user trained), merged after the bundled one."""
    return cache_dir() / "registry.json"
