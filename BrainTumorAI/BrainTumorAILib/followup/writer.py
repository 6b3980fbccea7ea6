"""The follow-up's files, all or nothing: followup.json, followup.csv, report.html, one label image
per study (`lesions_<date>.nii.gz`, stable ids, baseline T1CE geometry) and the runs made here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..image import write_image
from ..outputs import staged_output
from .report import build_followup_report

CSV_COLUMNS = ("id", "date", "status", "volume_mm3", "longest_diameter_mm", "perpendicular_diameter_mm",
               "product_mm2", "centroid_r", "centroid_a", "centroid_s", "split_from", "merged_into",
               "target_rano_bm", "target_rano2")


def csv_rows(result: dict) -> list[dict]:
    """One row per lesion and study (the trajectory table)."""
    targets = {lesion["id"]: lesion for lesion in result["lesions"]}
    rows = []
    for study in result["studies"]:
        for lesion in study["lesions"]:
            centroid = lesion["centroid_ras"] or [None] * 3
            rows.append({**{k: lesion.get(k) for k in CSV_COLUMNS}, "date": study["date"],
                         "centroid_r": centroid[0], "centroid_a": centroid[1], "centroid_s": centroid[2],
                         "target_rano_bm": targets[lesion["id"]]["target_rano_bm"],
                         "target_rano2": targets[lesion["id"]]["target_rano2"]})
    return sorted(rows, key=lambda r: (r["id"], r["date"]))


def write_followup(followup, out_dir) -> Path:
    from ..runner import write_run

    with staged_output(out_dir) as staging:
        for study, labels in zip(followup.studies, followup.tracked_labels):
            write_image(labels, staging / f"lesions_{study.date.isoformat()}.nii.gz")
        for index, run in followup.runs.items():
            write_run(run, staging / "studies" / followup.studies[index].date.isoformat())
        with open(staging / "followup.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(csv_rows(followup.result))
        (staging / "followup.json").write_text(json.dumps(followup.result, indent=2, allow_nan=False) + "\n")
        (staging / "report.html").write_text(build_followup_report(followup), encoding="utf-8")
    return Path(out_dir)
