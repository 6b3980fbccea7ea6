"""What each task needs and produces, importable without torch (the Slicer panel reads it).

Adding a task means adding its entry here and its pipeline in `tasks`; the panel, the runner
and the CLI pick it up from this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskInfo:
    name: str
    title: str
    sequences: tuple[str, ...]  # required inputs
    needs_roi: bool
    outputs: tuple[str, ...]  # image kinds written as <task>_<kind>.nii.gz
    geometry_of: str  # the input whose exact geometry the images have


TASK_CATALOG: dict[str, TaskInfo] = {
    info.name: info
    for info in (
        TaskInfo("gbm-met", "Glioblastoma vs solitary metastasis (Shin 2021)", ("t1ce", "t2"), True, ("cam",), "t2"),
        TaskInfo("mets-25d", "Brain metastases, 2.5D GoogLeNet FCN (Grøvik 2020)", ("t1ce", "flair"), False,
                 ("seg", "prob"), "t1ce"),
        TaskInfo("mets-3d", "Brain metastases, 3D DeepMedic with a five-fold vote (Jünger 2021)", ("t1ce",), False,
                 ("seg", "prob"), "t1ce"),
        TaskInfo("tumour-type", "Tumour type, seven classes (Chakrabarty 2021)", ("t1ce",), False, ("cam",), "t1ce"),
    )
}
