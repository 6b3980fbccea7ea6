"""`<out>/summary.csv`: one row per case with its status, error line, each task's answer, whether
the answers agree (result.json's `answer_checks` status) and seconds."""

from __future__ import annotations

import csv
import os
import uuid
from pathlib import Path

from ..catalog import task_specs

SUMMARY = "summary.csv"


def columns() -> tuple[str, ...]:
    """Each task's answer (its label, or the number of lesions found) and the scores its spec names
    (`summary_scores`), between the case's status and time."""
    specs = task_specs()
    scores = [f"{name}_{key}" for name, spec in specs.items() for key in spec.summary_scores]
    return ("case", "status", "error", *specs, *scores, "answer_checks", "seconds")


def _answer(entry: dict):
    if "label" in entry:
        return entry["label"]
    return entry.get("n_lesions", "")


def result_row(case_id: str, status: str, result: dict, seconds: float) -> dict:
    """A finished case's row from its result.json content."""
    row = {"case": case_id, "status": status, "error": "", "seconds": round(float(seconds), 2)}
    checks = result.get("answer_checks") or {}
    if checks.get("checks"):
        row["answer_checks"] = checks["status"]
    specs = task_specs()
    for task, entry in result.get("tasks", {}).items():
        row[task] = _answer(entry)
        for key in specs[task].summary_scores if task in specs else ():
            value = entry.get(key)
            row[f"{task}_{key}"] = round(float(value), 4) if isinstance(value, (int, float)) else ""
    return row


def failed_row(case_id: str, error: str, seconds: float) -> dict:
    return {"case": case_id, "status": "failed", "error": error, "seconds": round(float(seconds), 2)}


def write_summary(rows: list[dict], out_dir: Path) -> Path:
    """Write summary.csv atomically (a reader never sees half a file)."""
    path = Path(out_dir) / SUMMARY
    partial = path.with_name(f".{SUMMARY}.{uuid.uuid4().hex[:8]}")
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        fieldnames = columns()
        writer = csv.DictWriter(handle, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in fieldnames} for row in rows)
    os.replace(partial, path)
    return path
