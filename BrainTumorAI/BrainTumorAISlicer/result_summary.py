"""The results area's text, from result.json: verdicts, class probabilities, lesions, model sets,
input quality, whether the answers agree."""

from __future__ import annotations

from dataclasses import dataclass

from BrainTumorAILib.report.text import answer_check_lines

NOT_RUN = "not run"
DEMO_FALLBACK_NOTICE = "demo weights, not for clinical use"


@dataclass(frozen=True)
class ResultSummary:
    verdict: str  # GBM / metastasis with the predictive index
    probabilities: str  # tumour-type class probabilities
    lesions: str  # lesion count per detection task
    model_sets: str  # model set per task with its notice
    quality: str = NOT_RUN  # input quality: overall, then each task that is not ok and why
    answer_checks: str = NOT_RUN  # "answers agree", or each contradiction between the tasks' answers


def summarize(result: dict) -> ResultSummary:
    """One line per finding; tasks are recognised by the keys of the contract, so new tasks that
    report a predictive index, class probabilities or lesions appear without changes here."""
    tasks = result.get("tasks", {})
    verdicts = [f"{task}: {entry['label']} (predictive index {entry['predictive_index']:.2f}, "
                f"cut-off {entry['cutoff']:.2f}" + (f", {entry['cutoff_source']}" if entry.get("cutoff_source") else "")
                + ")" for task, entry in tasks.items() if "predictive_index" in entry]
    probabilities = [f"{task}: {entry.get('label', '?')} — " + ", ".join(
        f"{name} {value:.0%}" for name, value in sorted(entry["probabilities"].items(), key=lambda kv: -kv[1]))
        for task, entry in tasks.items() if isinstance(entry.get("probabilities"), dict)]
    lesions = [f"{task}: {len(entry['lesions'])} lesion{'s' if len(entry['lesions']) != 1 else ''}"
               for task, entry in tasks.items() if isinstance(entry.get("lesions"), list)]
    return ResultSummary(
        verdict="\n".join(verdicts) or NOT_RUN,
        probabilities="\n".join(probabilities) or NOT_RUN,
        lesions="\n".join(lesions) or NOT_RUN,
        model_sets="\n".join(_model_set_line(task, info) for task, info in (result.get("models") or {}).items()
                             if info) or NOT_RUN,
        quality=_quality_text(result.get("quality")),
        answer_checks="\n".join(answer_check_lines(result.get("answer_checks"))) or NOT_RUN,
    )


def _quality_text(quality: dict | None) -> str:
    """"ok", or the overall status and, per task that is not ok, its status and the problems."""
    if not quality:
        return NOT_RUN
    lines = [f"inputs: {quality['status']}"]
    for task, entry in quality.get("tasks", {}).items():
        problems = list(dict.fromkeys(r["message"] for r in entry["checks"].values() if r["status"] != "ok"))
        if problems:
            lines.append(f"{task}: {entry['status'].upper()} — " + "; ".join(problems))
    return "\n".join(lines)


def _model_set_line(task: str, info: dict) -> str:
    notice = info.get("notice") or (DEMO_FALLBACK_NOTICE if info.get("demo") else "")
    version = f" {info['version']}" if info.get("version") else ""
    return f"{task}: {info['name']}{version}" + (f" — {notice}" if notice else "")
