"""k-fold end to end on the toy task: report, plots, pooled held-out metrics, model set, CLI entry."""

import io
import json

import pytest
from test_training_toy import ToyAdapter, single_thread, toy_cases, toy_config  # noqa: F401 (fixture)

from BrainTumorAILib.catalog import TaskSpec, task_specs
from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models.weights import load_weights, sha256_file
from BrainTumorAILib.progress import Progress
from BrainTumorAILib.training import run_kfold, train_command
from BrainTumorAILib.training.task_adapters import create_adapter

pytestmark = pytest.mark.usefixtures("single_thread")
# the toy task as a spec: trainable through its adapter, nothing else
TOY_SPEC = TaskSpec(name="toy", title="toy", sequences=("t1ce",), needs_roi=False, outputs=(), geometry_of="t1ce",
                    pipeline="", verdict=str, training_adapter="test_training_toy:ToyAdapter")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfold")
    cases = toy_cases(n_patients=12)
    adapter = ToyAdapter()
    report = run_kfold(adapter, cases, toy_config(epochs=3), out)
    return adapter, cases, out, report


def test_every_case_is_held_out_once_by_a_model_that_never_saw_its_patient(trained):
    _, cases, out, report = trained
    folds = report["folds"]
    assert [f["fold"] for f in folds] == [0, 1]
    held_out = [case_id for f in folds for case_id in f["test"]]
    assert sorted(held_out) == sorted(c.case_id for c in cases)
    patient = {c.case_id: c.patient_id for c in cases}
    for fold in folds:
        seen = {patient[i] for i in fold["train"] + fold["validation"]}
        assert seen.isdisjoint(patient[i] for i in fold["test"])
        assert {patient[i] for i in fold["train"]}.isdisjoint(patient[i] for i in fold["validation"])
        predictions = json.loads((out / f"fold_{fold['fold']}" / "predictions.json").read_text())
        assert sorted(predictions) == sorted(fold["test"])


def test_report_json_plots_and_pooled_metrics(trained):
    _, cases, out, report = trained
    assert json.loads((out / "training_report.json").read_text()) == report
    assert report["task"] == "toy" and report["config"]["epochs"] == 3
    assert report["data"] == {"n_cases": 24, "n_patients": 12, "labels": {"noise": 12, "blob": 12}}
    assert report["metrics"]["n_positive"] + report["metrics"]["n_negative"] == len(cases)
    assert report["metrics"]["auc"] > 0.8  # the blobs are easy: held-out cases are separated
    for fold in report["folds"]:
        assert len(fold["history"]) == 3 and 1 <= fold["best_epoch"] <= 3
        assert (out / fold["loss_plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for plot in ("roc.png", "confusion_matrix.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_set_lists_the_fold_weights_with_their_checksums(trained):
    adapter, _, out, report = trained
    model_set = json.loads((out / "model_set.json").read_text())
    assert model_set == report["model_set"]
    assert model_set["task"] == "toy" and model_set["architecture"]["name"] == "toy-cnn"
    assert [f["path"] for f in model_set["folds"]] == ["fold_0/best.safetensors", "fold_1/best.safetensors"]
    for entry in model_set["folds"]:
        assert sha256_file(out / entry["path"]) == entry["sha256"]
        load_weights(adapter.build_model(toy_config()), out / entry["path"], entry["sha256"])


def test_rerun_resumes_finished_folds_without_training(trained):
    _, cases, out, report = trained
    before = {p: p.stat().st_mtime_ns for p in out.glob("fold_*/*.safetensors")}
    again = run_kfold(ToyAdapter(), cases, toy_config(epochs=3), out)
    assert again["folds"] == report["folds"] and again["metrics"] == report["metrics"]
    assert {p: p.stat().st_mtime_ns for p in out.glob("fold_*/*.safetensors")} == before


def test_train_command_finds_the_registered_adapter_and_reads_a_config_file(tmp_path, monkeypatch):
    monkeypatch.setitem(task_specs(), "toy", TOY_SPEC)
    manifest = tmp_path / "cases.csv"
    image = tmp_path / "t1ce.nii.gz"
    image.write_bytes(b"")  # the toy adapter generates its own slices; the index only checks presence
    manifest.write_text("case_id,patient_id,label,t1ce\n" + "".join(
        f"{c.case_id},{c.patient_id},{c.label},t1ce.nii.gz\n" for c in toy_cases(n_patients=8, cases_per_patient=1)))
    config = tmp_path / "fast.json"
    config.write_text(json.dumps({"epochs": 1, "batch_size": 8, "validation_fraction": 0.25, "device": "cpu"}))
    stream = io.StringIO()
    report = train_command("toy", manifest, tmp_path / "run", folds=2, config_path=config,
                           progress=Progress("json", stream=stream))
    assert report["config"]["name"] == "chakrabarty2021" and report["config"]["folds"] == 2
    assert report["config"]["epochs"] == 1 and (tmp_path / "run" / "training_report.json").is_file()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    fractions = [line["fraction"] for line in lines]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"training fold 0", "training fold 1", "done"} <= {line["stage"] for line in lines}


def test_unknown_task_names_the_trainable_ones(monkeypatch):
    monkeypatch.setitem(task_specs(), "toy", TOY_SPEC)
    with pytest.raises(InputError, match=r"task 'mets-4d' cannot be trained \(trainable tasks: .*toy"):
        train_command("mets-4d", ".", "out")


def test_an_augmentation_the_task_does_not_apply_is_refused_before_any_work(tmp_path):
    config = toy_config(augmentations=["flip", "thick_slice"])
    with pytest.raises(InputError, match="tumour-type training does not apply the augmentation.s. thick_slice"):
        run_kfold(create_adapter("tumour-type"), toy_cases(n_patients=4), config, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before preparing a single case


@pytest.mark.parametrize("setting, message", [
    ({"pooling": "median"}, "model setting: pooling 'median' is not one of average, average_and_max"),
    ({"pooled_stages": [1, 7]}, "model setting: pooled_stages 7 names no stage"),
    ({"lesion_stage": -9}, "model setting: lesion_stage -9 names no stage"),
])
def test_a_tumour_type_network_setting_it_cannot_build_is_refused_before_any_work(tmp_path, setting, message):
    config = toy_config()
    config.model.update(setting)
    with pytest.raises(InputError, match=message):
        run_kfold(create_adapter("tumour-type"), toy_cases(n_patients=4), config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_gbm_met_roi_scale_beyond_the_cached_crop_is_refused_before_any_work(tmp_path):
    config = toy_config()
    config.model["roi_scale_range"] = [0.8, 2.0]
    with pytest.raises(InputError, match="roi_scale_range"):
        run_kfold(create_adapter("gbm-met"), toy_cases(n_patients=4), config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
