"""The verdicts of a run as a few lines of text for the terminal."""

from __future__ import annotations

import sys
from pathlib import Path


def print_run_summary(result: dict, out_dir: Path) -> None:
    """The verdicts in a few lines (stdout stays JSON-only under --progress json: use stderr)."""
    stream = sys.stderr
    for task, entry in result["tasks"].items():
        if task == "gbm-met":
            print(f"gbm-met: {entry['label']} (predictive index {entry['predictive_index']:.2f}, "
                  f"cut-off {entry['cutoff']:.2f}, {entry['n_slices']} slices, "
                  f"fold agreement {entry['fold_agreement']:.0%})", file=stream)
        if entry.get("notice"):
            print(f"  {entry['notice']}", file=stream)
    for note in result["notes"]:
        print(f"note: {note}", file=stream)
    print(f"results: {out_dir}/result.json, report: {out_dir}/report.html", file=stream)
