"""The trainable tasks: those whose spec names a training adapter."""

from __future__ import annotations

from ..catalog import task_specs
from ..errors import InputError
from .adapter import TaskAdapter


def create_adapter(task: str) -> TaskAdapter:
    trainable = [name for name, spec in task_specs().items() if spec.training_adapter]
    if task not in trainable:
        raise InputError(f"task {task!r} cannot be trained (trainable tasks: {', '.join(trainable) or 'none'})")
    return task_specs()[task].part("training_adapter")()
