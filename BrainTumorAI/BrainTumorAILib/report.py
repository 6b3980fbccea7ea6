"""report.html: a self-contained page a radiologist can read (no external files or scripts)."""

from __future__ import annotations

import html
from pathlib import Path

STYLE = """
body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc}
.notice{background:#fff3cd;border:1px solid #e0b400;padding:.6em;margin:1em 0}
.verdict{font-size:1.3em;font-weight:bold}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
"""


def _table(rows) -> str:
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _gbm_met_section(entry: dict) -> str:
    verdict = f"{entry['label']} (predictive index {entry['predictive_index']:.2f}, cut-off {entry['cutoff']:.2f})"
    rows = [("Slices in the ROI", entry["n_slices"]),
            ("Slices voted GBM", sum(entry["slice_votes"])),
            ("Fold agreement", f"{entry['fold_agreement']:.0%}"),
            ("Predictive index of each fold", ", ".join(f"{v:.2f}" for v in entry["fold_predictive_indices"])),
            ("Model set", entry.get("model_set", ""))]
    return (f"<h2>Glioblastoma vs metastasis (Shin 2021)</h2><p class='verdict'>{html.escape(verdict)}</p>"
            f"{_table(rows)}<p>Class-activation map: gbm-met_cam.nii.gz (T2 geometry).</p>")


SECTIONS = {"gbm-met": _gbm_met_section}


def write_report(run, path: Path) -> Path:
    """Write the report of a RunResult."""
    result = run.result
    notices = {m["notice"] for m in result["models"].values() if m and m.get("notice")}
    parts = [f"<h1>BrainTumorAI report</h1>"]
    parts += [f"<div class='notice'>{html.escape(n)}</div>" for n in sorted(notices)]
    parts.append("<h2>Inputs</h2>" + _table(
        (name, f"{g['size']} voxels, spacing {[round(s, 2) for s in g['spacing']]} mm")
        for name, g in result["inputs"].items()))
    for task, entry in result["tasks"].items():
        parts.append(SECTIONS[task](entry))
    if result["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result["notes"]) + "</ul>")
    parts.append("<h2>Timings (s)</h2>" + _table(result["timings_s"].items()))
    parts.append(f"<p>Device: {html.escape(result['device'])}. BrainTumorAI {html.escape(result['version'])}. "
                 "Research software: not a medical device.</p>")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>BrainTumorAI report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)
