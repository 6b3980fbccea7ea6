"""`braintumorai batch`: every case of a cohort, resumable, with a summary and, given truth, the
cohort's evaluation.

Finished cases (a complete `<out>/<case>/result.json`) are skipped; the others run locally in
this process or as Ray tasks. summary.csv is rewritten after every case, so an interrupted batch
leaves a summary of what it finished; rerunning the same command finishes the rest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm

from ..errors import InputError
from .layout import finished_result, remove_leftovers
from .manifest import read_cohort
from .summary import result_row, write_summary
from .worker import BatchSettings, error_line

EVALUATION_DIR = "evaluation"


class _CohortProgress:
    """Cases done out of all, with the time left: a tqdm bar, JSON lines (`--progress json`) or nothing."""

    def __init__(self, mode: str, total: int, done: int):
        self.mode, self.total, self.done = mode, total, done
        self.bar = (tqdm(total=total, initial=done, unit="case", desc="batch", dynamic_ncols=True)
                    if mode == "bar" else None)

    def case_finished(self, row: dict) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{row['case']} {row['status']}", refresh=False)
            self.bar.update(1)
        elif self.mode == "json":
            print(json.dumps({"stage": "batch", "fraction": round(self.done / max(self.total, 1), 4),
                              "message": f"{row['case']} {row['status']}"}), flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_batch(data, out_dir, settings: BatchSettings = BatchSettings(), ray_address: str | None = None,
              ray_resources=None, progress: str = "none") -> dict:
    """Run the cohort in `data` into `out_dir`; returns {"rows", "summary", "evaluation"}."""
    cases = read_cohort(data)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file")
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for case in cases:
        earlier = finished_result(out_dir / case.case_id)
        if earlier is not None:
            rows[case.case_id] = result_row(case.case_id, "skipped", earlier,
                                            earlier.get("timings_s", {}).get("total", 0.0))
    todo = [case for case in cases if case.case_id not in rows]
    order = [case.case_id for case in cases]
    bar = _CohortProgress(progress, len(cases), len(rows))
    started = time.perf_counter()

    def on_row(row: dict) -> None:
        rows[row["case"]] = row
        write_summary([rows[c] for c in order if c in rows], out_dir)
        bar.case_finished(row)

    try:
        if not todo:
            pass
        elif ray_address:
            from .ray_runner import RayResources, run_on_ray

            run_on_ray(todo, out_dir, settings, ray_address, ray_resources or RayResources(), on_row)
        else:
            from .local import run_local

            run_local(todo, out_dir, settings, on_row)
    finally:
        bar.close()
    remove_leftovers(out_dir)  # staging folders of attempts that died mid-case
    summary = write_summary([rows[c] for c in order], out_dir)
    wall = time.perf_counter() - started
    return {"rows": [rows[c] for c in order], "summary": summary, "seconds": round(wall, 2),
            "ran": len(todo), "evaluation": evaluate_cohort(data, out_dir, [rows[c] for c in order])}


def evaluate_cohort(data, out_dir: Path, rows: list[dict]) -> dict:
    """`evaluate` of each task that has an evaluator, over the cohort's truth, into
    `<out>/evaluation/<task>/`; a task without truth or with unfinished cases gets a note."""
    from ..catalog import task_specs
    from ..evaluation import evaluate_command

    finished = [row for row in rows if row["status"] != "failed"]
    evaluable = [name for name, spec in task_specs().items() if spec.evaluator]
    ran = {task for row in finished for task in evaluable if row.get(task, "") != ""}
    outcomes = {}
    for task in sorted(ran):
        try:
            report = evaluate_command(task, out_dir, data, out_dir / EVALUATION_DIR / task)
            outcomes[task] = {"n_cases": report["n_cases"], "report": str(out_dir / EVALUATION_DIR / task)}
        except InputError as error:
            outcomes[task] = {"note": error_line(error)}
    return outcomes
