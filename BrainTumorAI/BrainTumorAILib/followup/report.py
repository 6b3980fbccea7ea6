"""The follow-up's report.html: the response per criterion with the numbers that led to it, the
lesion table per study, a per-lesion trajectory plot, and each target lesion's matched axial
slices side by side (all studies resampled into the baseline T1CE's space, report.images)."""

from __future__ import annotations

import datetime
import html
import io

import numpy as np
import SimpleITK as sitk
from matplotlib.figure import Figure

from ..report.html import DISCLAIMER, STYLE
from ..report.images import cut_axial_slice, draw_background, draw_labels, png_data_uri
from ..preprocessing.transforms import transform_from_matrix
from .colours import lesion_colour
from .response import CATEGORIES

ZOOM_MM = 30.0  # half-width of the crop around a target lesion, widened for large ones


def _e(value) -> str:
    return html.escape(str(value))


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return png_data_uri(buffer.getvalue())


def trajectory_figure(result: dict) -> str:
    """Longest diameter of every lesion over time, and the RANO-BM target sum (data URI)."""
    dates = [datetime.date.fromisoformat(s["date"]) for s in result["studies"]]
    figure = Figure(figsize=(8.0, 3.6), facecolor="white")
    per_lesion, totals = figure.subplots(1, 2)
    for lesion in result["lesions"]:
        values = []
        for study in result["studies"]:
            row = next((r for r in study["lesions"] if r["id"] == lesion["id"]), None)
            values.append(np.nan if row is None else (row["longest_diameter_mm"] or 0.0))
        style = "-o" if lesion["target_rano_bm"] or lesion["target_rano2"] else ":o"
        per_lesion.plot(dates, values, style, color=lesion_colour(lesion["id"]), label=str(lesion["id"]), markersize=4)
    per_lesion.axhline(10.0, color="grey", linewidth=0.8, linestyle="--")
    per_lesion.set(title="Longest axial diameter per lesion", ylabel="mm")
    per_lesion.legend(title="lesion", fontsize=7, ncol=2)
    sums = [entry["sum_mm"] for entry in result["rano_bm"]["by_study"]]
    totals.plot(dates, sums, "-o", color="#345")
    totals.set(title="RANO-BM: sum of target diameters", ylabel="mm")
    for ax in (per_lesion, totals):
        ax.set_xticks(dates, [d.isoformat() for d in dates])  # the study dates, not a calendar grid
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.set_ylim(bottom=0)
    figure.tight_layout()
    return _png(figure)


def _criterion_section(title: str, entry: dict) -> str:
    unit = entry["unit"]
    rows = []
    for study in entry["by_study"]:
        if study["category"] == "baseline":
            rows.append(f"<tr><td>{_e(study['date'])}</td><td>baseline</td><td class='num'>"
                        f"{study[f'sum_{unit}']:.1f}</td><td></td><td></td><td></td></tr>")
            continue
        change = lambda key: "" if study[key] is None else f"{study[key]:+.1f} %"  # noqa: E731
        rows.append(f"<tr><td>{_e(study['date'])}</td><td><b>{_e(study['display'])}</b></td>"
                    f"<td class='num'>{study[f'sum_{unit}']:.1f}</td><td class='num'>{change('change_from_baseline_pct')}</td>"
                    f"<td class='num'>{change('change_from_nadir_pct')}</td><td>{_e('; '.join(study['reasons']))}</td></tr>")
    targets = ", ".join(map(str, entry["targets"])) or "none (no measurable lesion at baseline)"
    return (f"<h3>{_e(title)} ({_e(entry['source'])})</h3>"
            f"<p>Target lesions: {_e(targets)}; non-target: {_e(', '.join(map(str, entry['non_targets'])) or 'none')}. "
            f"Summed measure: {_e(entry['measure'])} ({_e(unit)}).</p>"
            "<table><tr><th>Study</th><th>Category</th><th>Sum</th><th>vs baseline</th><th>vs nadir</th>"
            f"<th>Why</th></tr>{''.join(rows)}</table>")


def _response_summary(result: dict) -> str:
    items = []
    for key, name in (("rano_bm", "RANO-BM"), ("rano2", "RANO 2.0")):
        entry = result[key]
        words = CATEGORIES.get(entry["category"], "")
        items.append(f"<li>{_e(name)}: <b>{_e(entry['display'])}</b> ({_e(words)}); volumetric: "
                     f"{_e(entry['volumetric']['display'])}</li>")
    return ("<div class='summary'><h2>Response at the latest study</h2><ul>" + "".join(items) + "</ul>"
            "<p class='meta'>RANO-BM applies to brain metastases, RANO 2.0 to glioma (enhancing tumour); "
            "both are shown, the reader picks the one for the patient's disease.</p></div>")


def _studies_section(result: dict) -> str:
    parts = ["<h2>Studies and lesions</h2>"]
    for study in result["studies"]:
        registration = study["registration"]
        parts.append(f"<h3>{_e(study['date'])}</h3><p class='meta'>Lesions from {_e(study['source'])}; "
                     f"registration to the baseline: rotation {registration['rotation_deg']:.1f}°, translation "
                     f"{registration['translation_mm']:.1f} mm, residual {registration['residual_mm']:.2f} mm "
                     "(inverse consistency, RMS over the head).</p>")
        rows = "".join(
            f"<tr><td style='color:{lesion_colour(r['id'])};font-weight:bold'>{r['id']}</td><td>{_e(r['status'])}</td>"
            + "".join(f"<td class='num'>{'' if r[k] is None else format(r[k], spec)}</td>"
                      for k, spec in (("volume_mm3", ".0f"), ("longest_diameter_mm", ".1f"),
                                      ("perpendicular_diameter_mm", ".1f"), ("product_mm2", ".0f")))
            + f"<td>{_e(r['split_from'] or '')}</td><td>{_e(r['merged_into'] or '')}</td></tr>"
            for r in study["lesions"])
        parts.append("<table><tr><th>Lesion</th><th>Status</th><th>Volume mm³</th><th>Longest mm</th>"
                     "<th>Perpendicular mm</th><th>Product mm²</th><th>Split from</th><th>Merged into</th></tr>"
                     f"{rows}</table>")
    return "".join(parts)


def _in_baseline_space(image: sitk.Image, baseline: sitk.Image, matrix: np.ndarray) -> sitk.Image:
    return sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), baseline, transform_from_matrix(matrix),
                         sitk.sitkLinear, 0.0, sitk.sitkFloat32)


def matched_slices_figure(lesion_id: int, followup) -> str:
    """The target lesion's axial slice (at its baseline height) in every study, side by side."""
    result = followup.result
    baseline = followup.studies[0].t1ce
    row = next(r for r in result["studies"][0]["lesions"] if r["id"] == lesion_id)
    s_ras, centre = row["axial_s_ras"], row["centroid_ras"]
    count = len(followup.studies)
    figure = Figure(figsize=(2.6 * count, 2.9), facecolor="white")
    axes = np.atleast_1d(figure.subplots(1, count))
    for ax, study, alignment, labels, entry in zip(axes, followup.studies, followup.alignments,
                                                   followup.tracked_labels, result["studies"]):
        cut = cut_axial_slice(s_ras, baseline, _in_baseline_space(study.t1ce, baseline, alignment.matrix), labels)
        draw_background(ax, cut.background)
        if cut.labels is not None and cut.labels.any():
            draw_labels(ax, cut.labels, lesion_colour)
        row_pixel, column_pixel = cut.pixel_of_ras(centre)
        half = max(ZOOM_MM, row["longest_diameter_mm"]) / cut.pixel_mm
        ax.set_xlim(column_pixel - half, column_pixel + half)
        ax.set_ylim(row_pixel + half, row_pixel - half)
        size = next((r for r in entry["lesions"] if r["id"] == lesion_id), None)
        text = "absent" if size is None or size["longest_diameter_mm"] is None else \
            f"{size['longest_diameter_mm']:.1f} x {size['perpendicular_diameter_mm']:.1f} mm"
        ax.set_title(f"{entry['date']}\n{text}", fontsize=8)
    figure.suptitle(f"Lesion {lesion_id}, axial S = {s_ras:+.1f} mm (baseline space)", fontsize=9)
    figure.tight_layout()
    return _png(figure)


def build_followup_report(followup) -> str:
    """report.html's text for a FollowupResult."""
    result = followup.result
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    targets = sorted(set(result["rano_bm"]["targets"]) | set(result["rano2"]["targets"]))
    slices = "".join(
        f"<figure><img alt='lesion {t} over time' src='{matched_slices_figure(t, followup)}'><figcaption>Target "
        f"lesion {t} in every study, cut at its baseline axial height after rigid registration to the baseline "
        "T1CE (each study resampled in physical space); outlines coloured by lesion id; radiological convention "
        "(patient's right on the image's left).</figcaption></figure>" for t in targets)
    parts = [
        "<h1>BrainTumorAI follow-up</h1>",
        f"<p class='meta'>Generated {_e(generated)} by BrainTumorAI {_e(result['version'])}; baseline "
        f"{_e(result['baseline'])}, {len(result['studies'])} studies.</p>",
        f"<div class='warning'>{_e(DISCLAIMER)}</div>",
        _response_summary(result),
        "<h2>Response criteria</h2>",
        _criterion_section("RANO-BM", result["rano_bm"]),
        _criterion_section("RANO-BM, volumetric", result["rano_bm"]["volumetric"]),
        _criterion_section("RANO 2.0", result["rano2"]),
        _criterion_section("RANO 2.0, volumetric", result["rano2"]["volumetric"]),
        "<p class='meta'>Clinical items (corticosteroids, clinical status, non-target progression) are the "
        "reader's: where one could change a category and was not given, the category says so.</p>",
        "<h2>Trajectories</h2>",
        f"<figure><img alt='lesion trajectories' src='{trajectory_figure(result)}'><figcaption>Solid lines: target "
        "lesions; dotted: others; dashed grey: the 10 mm measurable size.</figcaption></figure>",
        "<h2>Target lesions over time</h2>" + (slices or "<p>No target lesion.</p>"),
        _studies_section(result),
        f"<p class='meta'>{_e(DISCLAIMER)}</p>",
    ]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>BrainTumorAI follow-up</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
