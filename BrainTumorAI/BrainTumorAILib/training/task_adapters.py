"""The tasks that can be trained: each task module registers a factory for its TaskAdapter."""

from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .adapter import TaskAdapter

ADAPTERS: dict[str, Callable[[], TaskAdapter]] = {}


def register_adapter(task: str, factory: Callable[[], TaskAdapter]) -> None:
    """Make `task` trainable (`braintumorai train --task TASK`); re-registering replaces it."""
    ADAPTERS[task] = factory


def create_adapter(task: str) -> TaskAdapter:
    if task not in ADAPTERS:
        known = ", ".join(sorted(ADAPTERS)) or "none registered"
        raise InputError(f"task {task!r} cannot be trained (trainable tasks: {known})")
    return ADAPTERS[task]()
