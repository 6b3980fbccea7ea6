"""The verdicts of a run in words: one line a task, for the terminal and the report's summary."""

from __future__ import annotations

import sys
from pathlib import Path

from ..catalog import LESION_COLUMNS, flat_lesion, number, verdict_line

MAX_PRINTED_LESIONS = 20  # the terminal shows the first ones; lesions.csv and the report hold all


def _lesion_text(lesion: dict, key: str, spec: str) -> str:
    """One table cell as text: a number by its format, other values as they are, 'n/a' when absent."""
    value = lesion.get(key)
    if spec:
        return number(value, spec)
    return "n/a" if value is None else str(value)


def lesion_table_lines(lesions: list[dict], limit: int = MAX_PRINTED_LESIONS) -> list[str]:
    """The lesion table as aligned text lines (header first, at most `limit` lesions, the rest
    counted in a last line); empty without lesions."""
    if not lesions:
        return []
    rows = [[short for _, _, short, _ in LESION_COLUMNS]]
    rows += [[_lesion_text(flat_lesion(lesion), key, spec) for key, _, _, spec in LESION_COLUMNS]
             for lesion in lesions[:limit]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(LESION_COLUMNS))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    if len(lesions) > limit:
        lines.append(f"... {len(lesions) - limit} more in lesions.csv")
    return lines


def quality_lines(quality: dict | None) -> list[str]:
    """The input quality in a few lines: the overall status, then each problem of each task."""
    if not quality:
        return []
    lines = [f"input quality: {quality['status']}"]
    for task, entry in quality.get("tasks", {}).items():
        for record in entry["checks"].values():
            if record["status"] != "ok":
                lines.append(f"  {task} {record['status'].upper()}: {record['message']}")
    return lines


def answer_check_lines(checks: dict | None) -> list[str]:
    """Whether the tasks' answers agree: "answers agree" or one line per contradiction; nothing
    when no two tasks that can contradict each other ran."""
    if not checks or not checks["checks"]:
        return []
    problems = [record["message"] for record in checks["checks"].values() if record["status"] != "ok"]
    return [f"answers disagree: {problem}" for problem in problems] or ["answers agree"]


def print_run_summary(result: dict, out_dir: Path) -> None:
    """The verdicts in a few lines (stdout stays JSON-only under --progress json: use stderr)."""
    stream = sys.stderr
    for task, entry in result["tasks"].items():
        print(f"{task}: {verdict_line(task, entry)}", file=stream)
        if entry.get("notice"):
            print(f"  {entry['notice']}", file=stream)
        for line in lesion_table_lines(entry.get("lesions") or []):
            print(f"    {line}", file=stream)
    for line in [*quality_lines(result.get("quality")), *answer_check_lines(result.get("answer_checks"))]:
        print(line, file=stream)
    for note in result["notes"]:
        print(f"note: {note}", file=stream)
    print(f"results: {out_dir}/result.json, report: {out_dir}/report.html", file=stream)
