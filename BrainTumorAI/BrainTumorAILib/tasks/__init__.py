"""One pipeline per clinical question; TASKS lists those the runner offers, in run order."""

from ..training.task_adapters import register_adapter
from . import gbm_met_task, gbm_met_training
from .context import TaskContext, TaskOutput, TaskSpec

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (gbm_met_task.SPEC,)}
register_adapter("gbm-met", gbm_met_training.GbmMetAdapter)
# what `make weights` trains: task -> cohort, preset overrides and set name
DEMO_SETS: dict[str, dict] = {"gbm-met": gbm_met_training.DEMO_SET}

__all__ = ["TASKS", "TaskContext", "TaskOutput", "TaskSpec"]
