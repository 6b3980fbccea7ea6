"""`braintumorai evaluate`: a task's statistics from `run` outputs against known truth.

`--pred DIR` holds one `run` output folder per case (named by case id, each with result.json);
`--truth` is a folder of cases or a CSV manifest with labels (as for training). Each task
reads what `run` wrote, so the figures are those of the deployed ensemble.
"""

from __future__ import annotations

import json
from pathlib import Path

from .catalog import task_specs
from .errors import InputError
from .outputs import staged_output


def task_entry(pred_dir: Path, case_id: str, task: str) -> dict:
    path = pred_dir / case_id / "result.json"
    if not path.is_file():
        raise InputError(f"no prediction for case {case_id}: {path} is missing")
    tasks = json.loads(path.read_text())["tasks"]
    if task not in tasks:
        raise InputError(f"{path} holds no {task} result")
    return tasks[task]


def evaluate_command(task: str, pred_dir, truth, out_dir) -> dict:
    """The task's evaluator (its spec's `evaluator`) on run outputs, written all or nothing."""
    evaluators = {name: spec for spec in task_specs().values() if spec.evaluator
                  for name in (spec.name, *spec.also_evaluates)}
    if task not in evaluators:
        raise InputError(f"evaluate: unknown task {task} (choose from {', '.join(evaluators)})")
    evaluator = evaluators[task].part("evaluator")
    with staged_output(out_dir) as staging:
        report = evaluator(task, Path(pred_dir), Path(truth), staging)
        (staging / "evaluation.json").write_text(json.dumps(report, indent=2))
    return report
