"""Do the methods' answers contradict each other? Checks across tasks that none of the papers had.

The four papers answer different questions of one case, and a reader of all four answers wants to
know where they cannot all be right: tumour-type reading a head as healthy while a metastasis
detector outlines a lesion it could have seen, tumour-type reading a metastasis where no detector
finds one, or the two classifiers naming different tumours. Each check that applies is a record
like the input-quality checks' (status "ok" or "warning", value, threshold, message), written as
result.json's `answer_checks`. A warning says which answers disagree, not which one is wrong.
"""

from __future__ import annotations

from .quality.checks import check, worst
from .tasks.gbm_met.method import TASK as GBM_MET
from .tasks.metastases.cross_method import AGREED, TASKS as METASTASIS_TASKS
from .tasks.tumour_type.method import TASK as TUMOUR_TYPE

# The smallest lesion whose absence from tumour-type's answer counts as a contradiction, in voxels
# of the grid tumour-type read (8 mm on the bundled set's 4 mm grid): a smaller one may vanish on it.
VISIBLE_LESION_VOXELS = 2
# What gbm-met's two answers are called among tumour-type's seven classes.
GBM_MET_CLASS = {"GBM": "hgg", "metastasis": "metastasis"}


def answer_checks(result: dict) -> dict:
    """{"status": the worst check's, "checks": {name: record}} for the tasks `result` holds."""
    tasks = result["tasks"]
    checks = {}
    if TUMOUR_TYPE in tasks and any(task in tasks for task in METASTASIS_TASKS):
        checks["tumour-type_vs_metastasis_detection"] = _type_against_lesions(result)
    if TUMOUR_TYPE in tasks and GBM_MET in tasks:
        checks["gbm-met_vs_tumour-type"] = _classifiers_against_each_other(tasks[GBM_MET], tasks[TUMOUR_TYPE])
    return {"status": worst(record["status"] for record in checks.values()), "checks": checks}


def _detected_lesions(result: dict) -> tuple[str, list[dict]]:
    """The most precise lesion list of the run: the agreed one when both detectors ran."""
    if AGREED in result:
        return "both metastasis methods", result[AGREED]["lesions"]
    task = next(task for task in METASTASIS_TASKS if task in result["tasks"])
    return task, result["tasks"][task].get("lesions") or []


def visible_lesion_mm(tumour_type: dict) -> float:
    """The lesion diameter tumour-type's grid shows for sure (`input_grid` of its result)."""
    return VISIBLE_LESION_VOXELS * float(tumour_type["input_grid"]["spacing_mm"])


def _type_against_lesions(result: dict) -> dict:
    label, visible = result["tasks"][TUMOUR_TYPE]["label"], visible_lesion_mm(result["tasks"][TUMOUR_TYPE])
    source, lesions = _detected_lesions(result)
    largest = max((lesion["longest_diameter_mm"] for lesion in lesions), default=0.0)
    found = f"{source} found {len(lesions)} lesion{'s' if len(lesions) != 1 else ''}" + (
        f" (largest {largest:.0f} mm)" if lesions else "")
    if label == "healthy" and largest >= visible:
        return check("warning", largest, visible, f"tumour-type reads no tumour, but {found}")
    if label == "metastasis" and not lesions:
        return check("warning", 0.0, visible, f"tumour-type reads a metastasis, but {found}")
    return check("ok", largest, visible, f"tumour-type reads {label}; {found}")


def _classifiers_against_each_other(gbm_met: dict, tumour_type: dict) -> dict:
    expected, label = GBM_MET_CLASS[gbm_met["label"]], tumour_type["label"]
    if label == expected:
        return check("ok", label, expected, f"gbm-met and tumour-type both read {label}")
    if label in GBM_MET_CLASS.values():
        return check("warning", label, expected, f"gbm-met reads {gbm_met['label']}, tumour-type {label}")
    return check("warning", label, expected, f"tumour-type reads {label}: gbm-met, which only tells GBM from "
                                             "metastasis, may not apply")
