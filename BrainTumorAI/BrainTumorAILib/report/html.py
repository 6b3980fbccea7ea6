"""report.html: one self-contained page a radiologist can read (images embedded, no external file,
script or link): the verdicts with their numbers, lesion tables, key axial slices with overlays,
the model sets with their intended use, timings and notes.

Generic over `result["tasks"]`: a task without a dedicated section still gets its verdict line,
its scalar numbers, its lesions and its slices, and a missing task, image or input only leaves
its part out.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..answer_checks import VISIBLE_LESION_VOXELS
from ..catalog import LESION_COLUMNS, flat_lesion, number, task_specs, verdict_line
from ..errors import InputError
from ..image import LPS_RAS_FLIP
from ..models.registry import ModelRegistry
from ..roi import BoxROI
from .images import choose_key_slices, cut_axial_slice, png_data_uri, render_axial_slice
from .markup import escape, pairs, table
from .text import answer_check_lines, quality_lines

STYLE = """
body{font-family:sans-serif;max-width:62em;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:2px solid #345;margin-top:1.6em}
h3{font-size:1.05em;margin-bottom:.3em}
.meta{color:#555;font-size:.9em}
.warning{background:#fff3cd;border:2px solid #e0a800;padding:.6em .8em;margin:1em 0;font-weight:bold}
.summary{background:#eef3f8;border:1px solid #9ab;padding:.4em 1em}
.verdict{font-size:1.25em;font-weight:bold;margin:.4em 0}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #bbb;padding:.2em .6em;text-align:left}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#3a7bd5;height:.9em;min-width:1px}
.bar.top{background:#d9534f}
.slowest td{font-weight:bold}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ccc}
figcaption{font-size:.9em;color:#333}
@media print{.warning{border-color:#000}h2{page-break-after:avoid}figure{page-break-inside:avoid}}
"""
DISCLAIMER = ("Research software, not a medical device: every finding must be checked against the images "
              "by a qualified reader.")
HEAT_KINDS = (("cam", "class-activation map"), ("prob", "lesion probability"))


def _spec(task: str):
    """The task's spec, or None for a task this installation does not know (an older result)."""
    return task_specs().get(task)


def _title(task: str) -> str:
    return _spec(task).title if _spec(task) else task


# --- case and inputs ---------------------------------------------------------------------------

def _orientation(direction_ras) -> str:
    """The slice plane (from the slices' normal), how far it is tilted from it, and ITK's axis code."""
    matrix = np.asarray(direction_ras, dtype=float)
    lps = LPS_RAS_FLIP @ matrix
    code = sitk.DICOMOrientImageFilter.GetOrientationFromDirectionCosines(lps.ravel().tolist())
    normal = np.abs(matrix[:, 2])
    plane = ("sagittal", "coronal", "axial")[int(np.argmax(normal))]
    tilt = float(np.degrees(np.arccos(np.clip(normal.max(), -1.0, 1.0))))
    return f"{plane}" + (f", oblique {tilt:.0f}°" if tilt >= 1.0 else "") + f" (voxel axes {code})"


def _inputs_section(result: dict) -> str:
    rows = []
    for name, geometry in result.get("inputs", {}).items():
        spacing = geometry.get("spacing", [])
        rows.append((name.upper(), " × ".join(str(v) for v in geometry.get("size", [])),
                     " × ".join(f"{v:.2f}" for v in spacing),
                     _orientation(geometry["direction_ras"]) if "direction_ras" in geometry else "n/a"))
    parts = ["<h2>Case and inputs</h2>"]
    if result.get("case"):
        parts.append(f"<p>Case: <b>{escape(result['case'])}</b></p>")
    parts.append(table(rows, ("Sequence", "Voxels", "Spacing (mm)", "Orientation")))
    roi = result.get("roi")
    if roi:
        bounds = ", ".join(f"{v:.1f}" for v in roi.get("bounds_ras", []))
        parts.append(f"<p>ROI (RAS mm): centre {escape(', '.join(f'{v:.1f}' for v in roi['center_ras']))}; "
                     f"size {escape(' × '.join(f'{v:.1f}' for v in roi['size_mm']))}; bounds {escape(bounds)}.</p>")
    return "".join(parts)


# --- verdicts ----------------------------------------------------------------------------------

def _scalar_details(entry: dict) -> str:
    """Any task: its single numbers and words (lists and tables are left to the files)."""
    rows = [(key, number(value, ".4g") if isinstance(value, float) else value) for key, value in entry.items()
            if isinstance(value, (int, float, str)) and key not in ("notice", "model_set", "label")]
    return pairs(rows) if rows else ""


def _lesion_rows(task: str, run) -> list[dict]:
    """The task's lesions: the runner's flat rows, else the result's own list (centroid_ras)."""
    rows = [row for row in run.lesions if row.get("task") == task]
    if rows:
        return rows
    return [flat_lesion(lesion) for lesion in run.result["tasks"][task].get("lesions") or []]


def _lesion_cell(row: dict, key: str, spec: str) -> str:
    value = row.get(key)
    if spec:
        return f"<td class='num'>{escape(number(value, spec))}</td>"
    return f"<td>{escape('' if value is None else value)}</td>"


def _lesiontable(rows: list[dict]) -> str:
    if not rows:
        return ""
    cells = [[_lesion_cell(row, key, spec) for key, _, _, spec in LESION_COLUMNS]
             for row in sorted(rows, key=lambda r: r.get("id", 0))]
    return ("<h3>Lesions</h3>" + table(cells, [title for _, title, _, _ in LESION_COLUMNS])
            + "<p class='meta'>Centroids in RAS mm (Slicer's coordinates); ids match the outlines in the "
            "slices and the values of the segmentation file.</p>")


# --- key slices --------------------------------------------------------------------------------

def _geometry_of(task: str) -> str:
    """The input whose geometry the task's images have (the contract: T1CE unless catalogued otherwise)."""
    return _spec(task).geometry_of if _spec(task) else "t1ce"


def _task_images(task: str, run):
    """(background input name, background, labels, heat, heat name) for a task's slices."""
    geometry_of = _geometry_of(task)
    labels = run.images.get(f"{task}_seg.nii.gz")
    heat, heat_name = None, ""
    for kind, name in HEAT_KINDS:
        if f"{task}_{kind}.nii.gz" in run.images:
            heat, heat_name = run.images[f"{task}_{kind}.nii.gz"], name
            break
    return geometry_of, run.inputs.get(geometry_of), labels, heat, heat_name


def _task_roi(task: str, result: dict) -> BoxROI | None:
    roi = result.get("roi")
    if not roi or not _spec(task) or not _spec(task).needs_roi:
        return None
    return BoxROI(roi["center_ras"], np.reshape(roi["orientation_ras"], (3, 3)), roi["size_mm"])


def _key_slice_figures(task: str, run, lesions: list[dict]) -> str:
    geometry_of, background, labels, heat, heat_name = _task_images(task, run)
    extent_of = next((image for image in (background, labels, heat) if image is not None), None)
    if extent_of is None or (labels is None and heat is None):
        return ""
    roi = _task_roi(task, run.result)
    figures = []
    for key in choose_key_slices(extent_of, heat, roi, lesions, heat_name):
        cut = cut_axial_slice(key.s_ras, extent_of, background, labels, heat, roi)
        title = f"{task}: axial S = {key.s_ras:+.1f} mm, {key.reason}"
        uri = png_data_uri(render_axial_slice(cut, title, f"{heat_name} (0-1)"))
        shown = [f"the {geometry_of.upper()} input" if background is not None else "no input image (not available)"]
        shown += ["lesion outlines (cyan, with ids)"] if labels is not None else []
        shown += [f"{heat_name} (colour, 0-1)"] if heat is not None else []
        shown += ["the ROI (green dashes)"] if roi is not None else []
        caption = (f"Axial slice at S = {key.s_ras:+.1f} mm (RAS), {escape(key.reason)}; left alone, right with "
                   f"the overlays: {escape(', '.join(shown))}. "
                   f"Resampled in physical space onto an axis-aligned {cut.pixel_mm:.1f} mm grid; "
                   "radiological convention (patient's right on the image's left, anterior at the top).")
        figures.append(f"<figure><img alt='{escape(title)}' src='{uri}'><figcaption>{caption}</figcaption></figure>")
    return "<h3>Key slices</h3>" + "".join(figures)


def _task_section(task: str, run) -> str:
    entry = run.result["tasks"][task]
    lesions = _lesion_rows(task, run)
    spec = _spec(task)
    details = (spec.details if spec and spec.details else _scalar_details)(entry)
    files = [name for name in run.images if name.startswith(f"{task}_")]
    geometry_of = _geometry_of(task).upper()
    parts = [f"<h2 id='{escape(task)}'>{escape(_title(task))}</h2>",
             f"<p class='verdict'>{escape(verdict_line(task, entry))}</p>", details, _lesiontable(lesions),
             _key_slice_figures(task, run, lesions)]
    if files:
        parts.append(f"<p class='meta'>Files: {escape(', '.join(sorted(files)))} (in the {geometry_of} input's "
                     "geometry, to load over that input in 3D Slicer).</p>")
    if entry.get("model_set"):
        parts.append(f"<p class='meta'>Model set: {escape(entry['model_set'])}.</p>")
    return "".join(parts)


# --- model sets, timings, notes ----------------------------------------------------------------

def _card_texts(model: dict) -> tuple[str, list[str]]:
    """The card's intended use and limitations: from the result when it carries them, else from the
    installed model card of the same name (none when the set is not installed here)."""
    if model.get("intended_use"):
        return model["intended_use"], list(model.get("limitations") or [])
    try:
        card = ModelRegistry.load().get(model["name"]).card()
    except (InputError, KeyError):
        return "", []
    return card.get("intended_use", ""), list(card.get("limitations") or [])


def _models_section(result: dict) -> str:
    models = {task: model for task, model in result.get("models", {}).items() if model}
    if not models:
        return ""
    parts = ["<h2>Model sets</h2>"]
    for task, model in models.items():
        intended_use, limitations = _card_texts(model)
        rows = [("Task", task), ("Version", model.get("version", "n/a")),
                ("Architecture", model.get("architecture", "n/a")), ("Folds (ensemble)", len(model.get("folds", []))),
                ("Demo weights", "yes" if model.get("demo") else "no")]
        if intended_use:
            rows.append(("Intended use", intended_use))
        parts.append(f"<h3>{escape(model.get('name', task))}</h3>")
        if model.get("notice"):
            parts.append(f"<div class='warning'>{escape(model['notice'])}</div>")
        parts.append(pairs(rows))
        if limitations:
            parts.append("<p>Limitations:</p><ul>" + "".join(f"<li>{escape(x)}</li>" for x in limitations) + "</ul>")
    return "".join(parts)


def _timings_section(timings: dict) -> str:
    if not timings:
        return ""
    total = timings.get("total") or sum(timings.values()) or 1.0
    stages = {k: v for k, v in timings.items() if k != "total"}
    slowest = max(stages, key=stages.get) if stages else None
    rows = "".join(f"<tr{' class=slowest' if name == slowest else ''}><td>{escape(name)}</td>"
                   f"<td class='num'>{seconds:.1f}</td><td class='num'>{seconds / total:.0%}</td></tr>"
                   for name, seconds in stages.items())
    rows += f"<tr><th>total</th><th class='num'>{total:.1f}</th><th></th></tr>"
    return ("<h2>Timings</h2><table><tr><th>Stage</th><th>Seconds</th><th>Share</th></tr>" + rows + "</table>"
            "<p class='meta'>Preprocessing is listed apart from the tasks that asked for it; the slowest "
            "stage is in bold.</p>")


def _check_row(labels: list[str], record: dict) -> str:
    """One table row of a check record (quality or answer check): its labels, then status, value,
    threshold and message, coloured by status."""
    cells = [*labels, record["status"]]
    numbers = [record["value"], record["threshold"]]
    return (f"<tr class='quality-{escape(record['status'])}'>" + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + "".join(f"<td class='num'>{escape(n)}</td>" for n in numbers)
            + f"<td>{escape(record['message'])}</td></tr>")


def _quality_section(quality: dict | None) -> str:
    """Input quality: every check of every sequence and task, the ones that are not ok first."""
    if not quality:
        return ""
    rows = [(scope, name, check, record) for scope in ("tasks", "sequences")
            for name, entry in quality.get(scope, {}).items() for check, record in entry["checks"].items()]
    rows.sort(key=lambda row: row[3]["status"] == "ok")
    cells = "".join(_check_row([name, check], r) for _, name, check, r in rows)
    source = quality.get("thresholds_file") or "the defaults (BrainTumorAILib/quality/thresholds.py)"
    return (f"<h2 id='quality'>Input quality: {escape(quality['status'])}</h2>"
            "<table><tr><th>Task or sequence</th><th>Check</th><th>Status</th><th>Value</th><th>Threshold</th>"
            f"<th>Meaning</th></tr>{cells}</table><p class='meta'>Thresholds: {escape(source)}. A task marked "
            "unreliable answered on inputs it was not built for: do not use its answer.</p>")


def _answer_checks_section(checks: dict | None) -> str:
    """Where two tasks' answers cannot both be right (absent when no such pair of tasks ran)."""
    if not checks or not checks["checks"]:
        return ""
    cells = "".join(_check_row([name], r) for name, r in checks["checks"].items())
    return (f"<h2 id='answer-checks'>Do the answers agree? {escape(checks['status'])}</h2>"
            "<table><tr><th>Check</th><th>Status</th><th>Value</th><th>Threshold or expected</th><th>Finding</th></tr>"
            f"{cells}</table>"
            "<p class='meta'>A warning says that two methods' answers cannot both be right, not which one is "
            f"wrong: read the images. Lesions narrower than {VISIBLE_LESION_VOXELS} voxels of tumour-type's grid (the "
            "check's threshold, in mm) are not held against it: the grid may not show them.</p>")


def _notes_section(notes: list[str]) -> str:
    if not notes:
        return ""
    return "<h2>Notes</h2><ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>"


def _summary(result: dict) -> str:
    items = [f"<li><a href='#{escape(task)}'>{escape(_title(task))}</a>: <b>{escape(verdict_line(task, entry))}</b></li>"
             for task, entry in result.get("tasks", {}).items()]
    items += [f"<li>{escape(note)}</li>" for note in result.get("notes", []) if "skipped" in note]
    items += [f"<li class='warning'><a href='#quality'>Input quality</a>: {escape(line.strip())}</li>"
              for line in quality_lines(result.get("quality"))[1:]]
    checks = result.get("answer_checks") or {}
    items += [f"<li class='warning'><a href='#answer-checks'>Answers</a>: {escape(line)}</li>"
              for line in answer_check_lines(checks) if checks.get("status") != "ok"]
    return "<div class='summary'><h2>Summary</h2><ul>" + "".join(items) + "</ul></div>"


def build_report(run) -> str:
    """The report's HTML text for a RunResult."""
    result = run.result
    notices = sorted({m["notice"] for m in result.get("models", {}).values() if m and m.get("notice")})
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = ["<h1>BrainTumorAI report</h1>",
             f"<p class='meta'>Generated {escape(generated)} by BrainTumorAI {escape(result.get('version', ''))} "
             f"on {escape(result.get('device', 'n/a'))}.</p>"]
    parts += [f"<div class='warning'>{escape(notice)}</div>" for notice in notices]
    parts.append(f"<div class='warning'>{escape(DISCLAIMER)}</div>")
    parts.append(_summary(result))
    parts.append(_inputs_section(result))
    parts.append(_quality_section(result.get("quality")))
    parts += [_task_section(task, run) for task in result.get("tasks", {})]
    parts.append(_answer_checks_section(result.get("answer_checks")))
    parts.append(_models_section(result))
    parts.append(_timings_section(result.get("timings_s", {})))
    parts.append(_notes_section(result.get("notes", [])))
    parts.append(f"<p class='meta'>{escape(DISCLAIMER)}</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>BrainTumorAI report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def write_report(run, path: Path) -> Path:
    """Write the report of a RunResult to `path`."""
    Path(path).write_text(build_report(run), encoding="utf-8")
    return Path(path)
