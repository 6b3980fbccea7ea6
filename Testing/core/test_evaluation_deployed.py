"""`braintumorai evaluate` on run outputs: tumour-type's seven-class figures, gbm-met's per-fold check."""

import csv
import json

import pytest

from BrainTumorAILib.evaluation import evaluate_command
from BrainTumorAILib.tasks.tumour_type.method import CLASSES

# truth -> what the deployed set answered; one hgg case is called metastasis
ANSWERS = {"a": ("hgg", "hgg"), "b": ("hgg", "metastasis"), "c": ("lgg", "lgg"), "d": ("metastasis", "metastasis"),
           "e": ("meningioma", "meningioma"), "f": ("pituitary", "pituitary"), "g": ("schwannoma", "schwannoma"),
           "h": ("healthy", "healthy")}


def write_manifest(folder, labels: dict) -> str:
    image = folder / "t1ce.nii.gz"
    image.write_bytes(b"")  # the manifest only needs the file to exist; evaluate never reads it
    path = folder / "truth.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "patient_id", "label", "t1ce"])
        writer.writerows([case_id, case_id, label, image.name] for case_id, label in labels.items())
    return str(path)


def write_run(pred, case_id: str, task: str, entry: dict) -> None:
    (pred / case_id).mkdir(parents=True)
    (pred / case_id / "result.json").write_text(json.dumps({"tasks": {task: entry}}))


def test_tumour_type_figures_come_from_the_runs_probabilities(tmp_path):
    pred = tmp_path / "runs"
    for case_id, (_, answer) in ANSWERS.items():
        probabilities = {name: (0.7 if name == answer else 0.05) for name in CLASSES}
        write_run(pred, case_id, "tumour-type", {"label": answer, "probabilities": probabilities})
    manifest = write_manifest(tmp_path, {case_id: truth for case_id, (truth, _) in ANSWERS.items()})
    report = evaluate_command("tumour-type", pred, manifest, tmp_path / "stats")
    metrics = report["metrics"]
    assert report["n_cases"] == 8 and metrics["n_correct"] == 7
    assert metrics["accuracy"] == pytest.approx(7 / 8)
    hgg = next(c for c in metrics["per_class"] if c["name"] == "hgg")
    assert hgg["sensitivity"] == pytest.approx(0.5)
    assert json.loads((tmp_path / "stats" / "evaluation.json").read_text())["task"] == "tumour-type"


def test_gbm_met_reports_a_fold_that_gives_one_class_to_every_case(tmp_path):
    pred = tmp_path / "runs"
    labels = {"p": "GBM", "q": "metastasis", "r": "GBM", "s": "metastasis"}
    fold_indices = {"p": [0.9, 1.0], "q": [0.1, 0.8], "r": [0.7, 0.9], "s": [0.2, 0.6]}  # fold 1 calls all GBM
    for case_id, label in labels.items():
        index = sum(fold_indices[case_id]) / 2
        write_run(pred, case_id, "gbm-met", {"predictive_index": index, "cutoff": 0.55,
                                             "label": "GBM" if index >= 0.55 else "metastasis",
                                             "cutoff_source": "paper (Shin 2021)",
                                             "fold_predictive_indices": fold_indices[case_id]})
    report = evaluate_command("gbm-met", pred, write_manifest(tmp_path, labels), tmp_path / "stats")
    assert [f["one_class_for_every_case"] for f in report["folds"]] == [False, True]
    assert report["folds"][1]["n_called_gbm"] == 4 and report["cutoff_source"] == "paper (Shin 2021)"
