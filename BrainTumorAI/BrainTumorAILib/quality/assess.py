"""The `quality` block of result.json: per-sequence checks, then per-task checks that inherit
the problems of the sequences the task uses, with resolution and out-of-distribution checks."""

from __future__ import annotations

from .checks import check, worst
from .coregistration import coregistration_checks
from .coverage import coverage_checks
from .distribution import distribution_checks
from .labels import label_checks
from .resolution import resolution_checks
from .view import quality_view

# A problem of an input makes the answers built on it unreliable, not failed: the task ran.
TASK_STATUS_OF_SEQUENCE = {"ok": "ok", "warning": "warning", "unreliable": "unreliable", "failed": "unreliable"}


def sequence_quality(view, thresholds: dict) -> dict[str, dict]:
    checks: dict[str, dict] = {name: {} for name in view.images}
    for found in (coverage_checks(view, thresholds), coregistration_checks(view, thresholds),
                  label_checks(view, thresholds)):
        for name, records in found.items():
            checks[name].update(records)
    return {name: {"status": worst(r["status"] for r in records.values()), "checks": records}
            for name, records in checks.items()}


def task_quality(task: str, sequences: list[str], view, images, sequence_results: dict, reference_statistics,
                 thresholds: dict) -> dict:
    checks = resolution_checks(task, images, thresholds)
    for name in sequences:
        records = sequence_results.get(name, {}).get("checks", {})
        if not records:
            continue
        key, record = max(records.items(), key=lambda item: ("ok", "warning", "unreliable", "failed").index(
            item[1]["status"]))
        checks[f"{name}_input"] = check(TASK_STATUS_OF_SEQUENCE[record["status"]], record["value"],
                                        record["threshold"], record["message"] if record["status"] != "ok"
                                        else f"{name}: input checks passed")
    checks.update(distribution_checks(view, sequences, reference_statistics, thresholds))
    return {"status": worst(r["status"] for r in checks.values()), "checks": checks}


def assess_quality(preprocessor, tasks: dict[str, tuple[list[str], dict | None]], thresholds: dict,
                   thresholds_file: str | None = None) -> dict:
    """The quality block. `tasks`: {task: (sequences it uses, its card's input_statistics or None)}."""
    view = quality_view(preprocessor)
    sequences = sequence_quality(view, thresholds)
    task_results = {task: task_quality(task, used, view, preprocessor.images, sequences, statistics, thresholds)
                    for task, (used, statistics) in tasks.items()}
    statuses = [entry["status"] for entry in (*sequences.values(), *task_results.values())]
    return {"status": worst(statuses), "thresholds_file": thresholds_file, "sequences": sequences,
            "tasks": task_results}


def quality_notes(quality: dict) -> list[str]:
    """One line per task that is not ok and per problem behind it, for the terminal and notes."""
    lines = []
    for task, entry in quality.get("tasks", {}).items():
        problems = [record["message"] for record in entry["checks"].values() if record["status"] != "ok"]
        if problems:
            lines.append(f"{task} {entry['status'].upper()}: " + "; ".join(dict.fromkeys(problems)))
    return lines
