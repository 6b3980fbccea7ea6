"""One pipeline per clinical question; TASKS lists those the runner offers, in run order."""

from ..training.task_adapters import register_adapter
from . import gbm_met_task, gbm_met_training
from . import mets_25d_task, mets_25d_training
from . import mets_3d_task, mets_3d_training
from . import tumour_type_task, tumour_type_training
from .context import TaskContext, TaskOutput, TaskSpec

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (gbm_met_task.SPEC, mets_25d_task.SPEC)}
TASKS["mets-3d"] = mets_3d_task.SPEC
TASKS["tumour-type"] = tumour_type_task.SPEC
register_adapter("gbm-met", gbm_met_training.GbmMetAdapter)
register_adapter("mets-25d", mets_25d_training.Mets25dAdapter)
register_adapter("mets-3d", mets_3d_training.Mets3dAdapter)
register_adapter("tumour-type", tumour_type_training.TumourTypeAdapter)
# what `make weights` trains: task -> cohort, preset overrides and set name
DEMO_SETS: dict[str, dict] = {"gbm-met": gbm_met_training.DEMO_SET}
DEMO_SETS["mets-25d"] = mets_25d_training.DEMO_SET
DEMO_SETS["mets-3d"] = mets_3d_training.DEMO_SET
DEMO_SETS["tumour-type"] = tumour_type_training.DEMO_SET

__all__ = ["TASKS", "TaskContext", "TaskOutput", "TaskSpec"]
