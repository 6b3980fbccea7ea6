"""How often result.json's answer checks flag a wrong answer, and a right one, on phantoms with truth.

    PYTHONPATH=BrainTumorAI python -m BrainTumorAILib batch --data COHORT --out RUNS --tasks all
    PYTHONPATH=BrainTumorAI python Utilities/measure_answer_checks.py --runs RUNS --cohort COHORT

COHORT is a synthetic cohort (`braintumorai synth` or `make_cohort`: each case's truth.json names
its tumour type and, for GBM and solitary metastases, gbm-met's answer). The checks are recomputed
from each result.json, so runs written before the checks existed count too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "BrainTumorAI"))

from BrainTumorAILib.answer_checks import answer_checks  # noqa: E402

LESION_CHECK, PAIR_CHECK = "tumour-type_vs_metastasis_detection", "gbm-met_vs_tumour-type"


def case_rows(runs: Path, cohort: Path) -> list[dict]:
    rows = []
    for folder in sorted(p for p in runs.iterdir() if (p / "result.json").is_file()):
        result = json.loads((folder / "result.json").read_text())
        truth = json.loads((cohort / folder.name / "truth.json").read_text())
        checks = answer_checks(result)["checks"]
        tasks = result["tasks"]
        rows.append({
            "case": folder.name,
            "tumour_type_right": tasks["tumour-type"]["label"] == truth["tumour_type"],
            "gbm_met_truth": truth.get("gbm_met_label"),
            "gbm_met_right": tasks.get("gbm-met", {}).get("label") == truth.get("gbm_met_label"),
            "gbm_met_ran": "gbm-met" in tasks,
            "lesion_warning": checks.get(LESION_CHECK, {}).get("status") == "warning",
            "pair_warning": checks.get(PAIR_CHECK, {}).get("status") == "warning",
        })
    return rows


def summary(rows: list[dict]) -> dict:
    wrong = [r for r in rows if not r["tumour_type_right"]]
    right = [r for r in rows if r["tumour_type_right"]]
    pair = [r for r in rows if r["gbm_met_truth"] and r["gbm_met_ran"]]
    pair_wrong = [r for r in pair if not (r["gbm_met_right"] and r["tumour_type_right"])]
    others = [r for r in rows if not r["gbm_met_truth"] and r["gbm_met_ran"]]
    return {
        "cases": len(rows),
        "tumour-type wrong / flagged by the lesion check": [len(wrong), sum(r["lesion_warning"] for r in wrong)],
        "tumour-type right / flagged by the lesion check": [len(right), sum(r["lesion_warning"] for r in right)],
        "GBM or metastasis phantoms, either classifier wrong / flagged": [
            len(pair_wrong), sum(r["pair_warning"] for r in pair_wrong)],
        "GBM or metastasis phantoms, both right / flagged": [
            len(pair) - len(pair_wrong), sum(r["pair_warning"] for r in pair if r not in pair_wrong)],
        "outside gbm-met's question (not GBM or a solitary metastasis), answered / flagged": [len(others), sum(r["pair_warning"] for r in others)],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="batch output: one run folder per case")
    parser.add_argument("--cohort", type=Path, required=True, help="the synthetic cohort the runs read")
    args = parser.parse_args(argv)
    print(json.dumps(summary(case_rows(args.runs, args.cohort)), indent=2))


if __name__ == "__main__":
    main()
