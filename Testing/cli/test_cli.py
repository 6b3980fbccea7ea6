"""The `braintumorai` command line on small synthetic files (the contract in the README's Command line section).

The real entry point runs in a subprocess for `synth` and the end-to-end `preprocess`; bad input
goes through `cli.main(argv)` in this process (the same code, without a Python start-up per
case), with stderr captured at the file-descriptor level so that C++ output would show too.
Every bad input must give exit status 2, one stderr line `error: ...` naming the problem, no
traceback, unchanged input files and no output folder.
"""

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from BrainTumorAILib import cli
from BrainTumorAILib.image import read_image
from BrainTumorAILib.models import DEMO_NOTICE, ModelRegistry, save_weights
from BrainTumorAILib.networks import build_slice_resnet50
from BrainTumorAILib.preprocessing import registration_error_mm
from BrainTumorAILib.preprocessing.grid import physical_points
from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.synthetic import load_truth, true_transform
from BrainTumorAILib.tasks.gbm_met import method as gbm_met
from conftest import main_in_process

REPO = Path(__file__).resolve().parents[2]
BUNDLED_REGISTRY = REPO / "Resources" / "models" / "registry.json"
SEQUENCES = ("t1ce", "t2", "flair")
REGISTRATION_TOLERANCE_MM = 2.0  # 2.5 mm phantom with 10 mm T2 slices (see test_preprocessing.py)


def braintumorai(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m BrainTumorAILib ARGS` as a user would."""
    return subprocess.run([sys.executable, "-m", "BrainTumorAILib", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)


def file_hashes(*folders: Path) -> dict:
    return {path: hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()}


def roi_argument(bounds) -> str:
    return ",".join(f"{float(v):g}" for v in bounds)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """One 2.5 mm synthetic head made by `braintumorai synth` (in this process: the real process
    start is tested by the end-to-end `preprocess`)."""
    out = tmp_path_factory.mktemp("synth")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(["synth", "--out", str(out), "--kind", "gbm", "--seed", "5", "--voxel-mm", "2.5"])
    assert status == 0
    folder = Path(printed.getvalue().strip().splitlines()[-1])
    assert folder.parent == out and folder.name == "synth-gbm-0005"
    return SimpleNamespace(folder=folder, truth=load_truth(folder),
                           files={name: folder / f"{name}.nii.gz" for name in ("t1ce", "t2", "flair", "t1")})


def test_synth_writes_a_case_with_its_truth(case):
    assert case.truth["kind"] == "gbm" and case.truth["voxel_mm"] == 2.5
    for name, path in case.files.items():
        image = read_image(path, name)
        assert list(image.GetSize()) == case.truth["sequences"][name]["size"]
        assert image.GetSpacing() == pytest.approx(case.truth["sequences"][name]["spacing"])
    for name in ("seg_t1ce", "seg_t2", "brain_t1ce", "brain_t2", "lesions_t1ce"):
        assert (case.folder / "truth" / f"{name}.nii.gz").is_file()


def test_preprocess_end_to_end_writes_the_contract_files(case, tmp_path):
    before = file_hashes(case.folder)
    out = tmp_path / "preprocessed"
    # deepbet is tested in test_preprocessing.py; here it would only add ~10 s
    result = braintumorai("preprocess", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"],
                          "--flair", case.files["flair"], "--out", out, "--progress", "json",
                          "--brain-extraction", "none")
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower()
    # --progress json: one {"stage", "fraction", "message"} object a line, fractions rising to 1
    progress = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert progress and all(set(p) == {"stage", "fraction", "message"} for p in progress)
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] >= 0.0

    names = ["t1ce.nii.gz", "t2.nii.gz", "flair.nii.gz", "brain_mask.nii.gz", "preprocessing.json"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # nothing partial left beside them
    t2_input = read_image(case.files["t2"], "t2")
    mask = read_image(out / "brain_mask.nii.gz", "mask")
    assert mask.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayViewFromImage(mask))) == {0, 1}
    for name in SEQUENCES:
        image = read_image(out / f"{name}.nii.gz", name)
        assert image.GetPixelID() == sitk.sitkFloat32
        assert image.GetSpacing() == pytest.approx((1.0, 1.0, 1.0))  # 1 mm isotropic, the default
        assert image.GetDirection() == pytest.approx(t2_input.GetDirection(), abs=1e-6)  # T2 reference (default)
        assert image.GetSize() == mask.GetSize() and image.GetOrigin() == pytest.approx(mask.GetOrigin())

    document = json.loads((out / "preprocessing.json").read_text())
    assert document["reference"] == "t2" and document["coordinate_system"] == "LPS"
    assert document["parameters"]["options"]["brain_extraction"] == "none"
    assert document["parameters"]["options"]["normalisation"] == "whitestripe"  # Shin 2021 for the T2 space
    np.testing.assert_array_equal(document["transforms"]["t2"], np.eye(4))
    truth_brain = read_image(case.folder / "truth" / "brain_t2.nii.gz", "truth")
    points = physical_points(truth_brain, sitk.GetArrayViewFromImage(truth_brain) > 0)
    for name in ("t1ce", "flair"):
        error = registration_error_mm(np.array(document["transforms"][name]),
                                      true_transform(case.truth, "t2", name), points)
        assert error < REGISTRATION_TOLERANCE_MM, name
    assert file_hashes(case.folder) == before


@pytest.fixture(scope="module")
def bad_files(case, tmp_path_factory):
    """Broken variants of the case's T2, each in its own file."""
    folder = tmp_path_factory.mktemp("bad")
    t2 = sitk.ReadImage(str(case.files["t2"]))

    def write(image, name):
        sitk.WriteImage(image, str(folder / name))

    write(t2[:, :, 4], "slice.nii.gz")
    write(sitk.JoinSeries([t2, t2]), "series.nii.gz")
    array = sitk.GetArrayFromImage(t2).astype(np.float32)
    array[5, 40, 30] = np.nan
    nan = sitk.GetImageFromArray(array)
    nan.CopyInformation(t2)
    write(nan, "nan.nii.gz")
    raw = gzip.decompress(case.files["t2"].read_bytes())
    zero_spacing = bytearray(raw)
    struct.pack_into("<f", zero_spacing, 80, 0.0)  # pixdim[1]
    (folder / "zero_spacing.nii").write_bytes(bytes(zero_spacing))
    (folder / "empty.nii.gz").write_bytes(b"")
    (folder / "truncated.nii.gz").write_bytes(case.files["t2"].read_bytes()[:-4000])
    (folder / "garbage.nii.gz").write_bytes(b"this is not an image " * 50)
    (folder / "t2.txt").write_text("T2 please")
    elsewhere = sitk.Image(t2)
    elsewhere.SetOrigin(tuple(np.array(t2.GetOrigin()) + [0.0, 0.0, 1000.0]))
    write(elsewhere, "elsewhere.nii.gz")
    return folder


BAD_INPUTS = {
    # id: (command line with {t1ce} {t2} {bad} {out} placeholders, what the error line must say)
    "missing file": ("preprocess --t1ce {t1ce} --t2 {bad}/absent.nii.gz --out {out}", r"t2: file not found"),
    "2D image": ("preprocess --t1ce {t1ce} --t2 {bad}/slice.nii.gz --out {out}", r"t2: expected a 3D volume, got a 2D"),
    "4D image": ("preprocess --t1ce {t1ce} --t2 {bad}/series.nii.gz --out {out}",
                 r"t2: expected a 3D volume, got a 4D"),
    "NaN voxels": ("preprocess --t1ce {t1ce} --t2 {bad}/nan.nii.gz --out {out}", r"t2: volume contains NaN"),
    "zero spacing": ("preprocess --t1ce {t1ce} --t2 {bad}/zero_spacing.nii --out {out}",
                     r"t2: spacing \(0\.0, .*\) mm .*must be positive"),
    "empty file": ("preprocess --t1ce {t1ce} --t2 {bad}/empty.nii.gz --out {out}", r"t2: file is empty"),
    "truncated file": ("preprocess --t1ce {t1ce} --t2 {bad}/truncated.nii.gz --out {out}",
                       r"t2: cannot read .*truncated"),
    "corrupt file": ("preprocess --t1ce {t1ce} --t2 {bad}/garbage.nii.gz --out {out}", r"t2: cannot read .*corrupt"),
    "unknown format": ("preprocess --t1ce {t1ce} --t2 {bad}/t2.txt --out {out}", r"t2: unknown image format"),
    "sequences that do not overlap": ("preprocess --t1ce {t1ce} --t2 {bad}/elsewhere.nii.gz --out {out}",
                                      r"t1ce and t2 do not overlap"),
    "missing sequence": ("preprocess --t1ce {t1ce} --out {out}", r"required: --t2"),
    "task needing a missing sequence": ("run --t1ce {t1ce} --out {out} --tasks gbm-met --roi-ras -40,-20,0,20,0,20",
                                        r"required: --t2"),
    "unknown reference": ("preprocess --t1ce {t1ce} --t2 {t2} --out {out} --reference flair",
                          r"argument --reference: invalid choice"),
    "bad resampling": ("preprocess --t1ce {t1ce} --t2 {t2} --out {out} --resample-mm -1",
                       r"resample_mm must be positive"),
    "unknown task": ("run --t1ce {t1ce} --t2 {t2} --out {out} --tasks gbm-met,astrology --roi-ras -40,-20,0,20,0,20",
                     r"unknown task astrology"),
    "--roi and --roi-ras together": ("run --t1ce {t1ce} --t2 {t2} --out {out} --roi {bad}/roi.mrk.json "
                                     "--roi-ras -40,-20,0,20,0,20", r"either --roi or --roi-ras, not both"),
    "ROI outside the volume": ("run --t1ce {t1ce} --t2 {t2} --out {out} --tasks gbm-met --roi-ras 400,420,0,20,0,20",
                               r"ROI \[400\.0, 420\.0, .*\] \(RAS mm\) lies outside the t2 volume"),
    "ROI file missing": ("run --t1ce {t1ce} --t2 {t2} --out {out} --roi {bad}/absent.mrk.json", r"ROI file not found"),
    "ROI file not a ROI": ("run --t1ce {t1ce} --t2 {t2} --out {out} --roi {bad}/t2.txt",
                           r"is not a Slicer Markups ROI"),
    "ROI with five numbers": ("run --t1ce {t1ce} --t2 {t2} --out {out} --roi-ras=-40,-20,0,20,0",
                              r"ROI needs six numbers"),
    "empty ROI": ("run --t1ce {t1ce} --t2 {t2} --out {out} --roi-ras -20,-40,0,20,0,20", r"ROI is empty"),
    "unknown synthetic kind": ("synth --out {out} --kind unicorn", r"unknown synthetic kind unicorn"),
}


def check_refused(status, out_text, err_text, message):
    assert status == cli.EXIT_BAD_INPUT
    lines = err_text.splitlines()
    assert len(lines) == 1, err_text  # one line: no usage block, traceback or C++ chatter
    assert lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]
    assert out_text == ""


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_with_status_2_and_leaves_nothing(name, case, bad_files, tmp_path, capfd,
                                                                      monkeypatch):
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))  # never the user's real cache
    template, message = BAD_INPUTS[name]
    out = tmp_path / "out"
    argv = template.format(t1ce=case.files["t1ce"], t2=case.files["t2"], bad=bad_files, out=out).split()
    before = file_hashes(case.folder, bad_files)
    status, out_text, err_text = main_in_process(argv, capfd)
    check_refused(status, out_text, err_text, message)
    assert not out.exists()
    assert file_hashes(case.folder, bad_files) == before


def test_a_real_process_gives_one_error_line_and_keeps_an_existing_output_folder(case, bad_files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("an earlier result")
    result = braintumorai("preprocess", "--t1ce", case.files["t1ce"], "--t2", bad_files / "nan.nii.gz",
                          "--out", out)
    check_refused(result.returncode, result.stdout, result.stderr, r"t2: volume contains NaN")
    assert [p.name for p in out.iterdir()] == ["earlier.txt"]


@pytest.mark.parametrize("argv", [
    ["--roi-ras", "-40,12,-30,25,-10,30"],
    ["--roi-ras=-40,12,-30,25,-10,30"],
])
def test_ras_boxes_beginning_with_a_negative_number_parse(argv):
    args = cli.build_parser().parse_args(cli._normalise_negative_values(
        ["run", "--t1ce", "a.nii", "--t2", "b.nii", "--out", "o", *argv]))
    np.testing.assert_array_equal(BoxROI.parse_ras_bounds(args.roi_ras).bounds_ras(), [-40, 12, -30, 25, -10, 30])


# --- model sets ---------------------------------------------------------------------------------

def bundled_gbm_met_entry() -> dict | None:
    if not BUNDLED_REGISTRY.is_file():
        return None
    sets = ModelRegistry.load(BUNDLED_REGISTRY).model_sets(gbm_met.TASK)
    return sets[-1].entry if sets else None


def stand_in_gbm_met_entry(folder: Path) -> dict:
    """A gbm-met set with untrained weights, used only while no trained set is bundled: enough to
    test that weights are verified, never to judge a prediction."""
    config = {"in_channels": 3, "num_classes": 2, "widths": [8, 16, 32, 64], "dropout": 0.5}
    torch.manual_seed(0)
    weights = folder / "stand-in" / "fold0.safetensors"
    weights.parent.mkdir(parents=True)
    sha256 = save_weights(build_slice_resnet50(**config), weights)
    return {"name": "gbm-met-stand-in", "task": gbm_met.TASK, "version": "0.0.1",
            "architecture": {"name": "slice_resnet50", "config": config}, "inputs": ["t1ce", "t2", "t2"],
            "preprocessing": {"reference": "t2", "normalisation": "whitestripe", "input_size": 64},
            "classes": list(gbm_met.CLASSES), "thresholds": {"predictive_index": 0.5},
            "folds": [{"path": "stand-in/fold0.safetensors", "sha256": sha256}],
            "card": "stand-in/model_card.json", "demo": True, "notice": DEMO_NOTICE}


@pytest.fixture()
def private_registry(tmp_path, monkeypatch):
    """A registry folder of our own holding one gbm-met set (a copy of the bundled one, else a
    stand-in), the CLI pointed at it and at an empty cache: the real ones are never touched."""
    folder = tmp_path / "models"
    folder.mkdir()
    entry = bundled_gbm_met_entry()
    if entry is None:
        entry = stand_in_gbm_met_entry(folder)
    else:
        for relative in [fold["path"] for fold in entry["folds"]] + [entry["card"]]:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(BUNDLED_REGISTRY.parent / relative, folder / relative)
    # The runner preprocesses before it loads weights or checks the ROI against the brain: no brain
    # extraction (the mask is then the head) and a 2 mm grid keep these tests cheap without
    # changing what they check.
    entry = {**entry, "preprocessing": {**entry["preprocessing"], "brain_extraction": "none", "resample_mm": 2.0}}
    card_path = folder / entry["card"]
    card = json.loads(card_path.read_text())
    card_path.write_text(json.dumps({**card, "preprocessing": entry["preprocessing"]}))  # runs check card == entry
    (folder / "registry.json").write_text(json.dumps({"schema_version": 1, "model_sets": [entry]}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(folder))
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))
    return SimpleNamespace(folder=folder, entry=entry, weights=folder / entry["folds"][0]["path"])


def run_argv(case, out, roi_bounds) -> list:
    return ["run", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"], "--out", out, "--tasks", "gbm-met",
            "--device", "cpu", "--roi-ras", roi_argument(roi_bounds)]


def test_tampered_weights_are_refused(case, private_registry, tmp_path, capfd):
    data = bytearray(private_registry.weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the tensors
    private_registry.weights.write_bytes(bytes(data))
    bundled_before = file_hashes(BUNDLED_REGISTRY.parent)
    out = tmp_path / "out"
    status, out_text, err_text = main_in_process(run_argv(case, out, case.truth["roi_ras_by_sequence"]["t2"]), capfd)
    check_refused(status, out_text, err_text, r"SHA-256 mismatch \(tampered or corrupt file\)")
    assert not out.exists()
    assert file_hashes(BUNDLED_REGISTRY.parent) == bundled_before


def test_no_model_set_for_the_task_is_named(case, tmp_path, monkeypatch, capfd):
    empty = tmp_path / "models"
    empty.mkdir()
    (empty / "registry.json").write_text(json.dumps({"schema_version": 1, "model_sets": []}))
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(empty))
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))
    status, out_text, err_text = main_in_process(
        run_argv(case, tmp_path / "out", case.truth["roi_ras_by_sequence"]["t2"]), capfd)
    check_refused(status, out_text, err_text, r"no model set for task 'gbm-met'")
    assert not (tmp_path / "out").exists()


def air_box(case, half_mm: float = 6.0) -> list:
    """RAS bounds of a small box in the air of the T2 volume, inside the T1CE volume too."""
    from scipy.ndimage import distance_transform_edt

    t2 = read_image(case.files["t2"], "t2")
    t1ce = read_image(case.files["t1ce"], "t1ce")
    brain = sitk.GetArrayFromImage(read_image(case.folder / "truth" / "brain_t2.nii.gz", "truth")) > 0
    distance = distance_transform_edt(~brain, sampling=t2.GetSpacing()[::-1])
    air = (distance > 45.0) & (sitk.GetArrayFromImage(t2) < 0.02 * sitk.GetArrayFromImage(t2).max())
    size = np.array(t1ce.GetSize())
    for point in physical_points(t2, air):
        index = np.array(t1ce.TransformPhysicalPointToContinuousIndex(point.tolist()))
        if np.all(index > 3) and np.all(index < size - 4):
            ras = point * [-1, -1, 1]
            return [v for c in ras for v in (c - half_mm, c + half_mm)]
    pytest.fail("no air inside both volumes")


def test_roi_outside_the_head_is_refused(case, private_registry, tmp_path, capfd):
    out = tmp_path / "out"
    status, out_text, err_text = main_in_process(run_argv(case, out, air_box(case)), capfd)
    check_refused(status, out_text, err_text, r"lies outside the head")
    assert not out.exists()


@pytest.mark.skipif(bundled_gbm_met_entry() is None,
                    reason="no gbm-met model set in Resources/models/registry.json yet (make weights)")
def test_run_gbm_met_end_to_end(case, tmp_path, monkeypatch, capfd):
    monkeypatch.delenv("BRAINTUMORAI_MODELS", raising=False)
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))  # bundled sets only
    out = tmp_path / "run"
    roi = case.truth["roi_ras_by_sequence"]["t2"]
    before = file_hashes(case.folder)
    status, out_text, err_text = main_in_process(
        ["run", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"], "--flair", case.files["flair"],
         "--out", out, "--tasks", "gbm-met", "--device", "cpu", "--roi-ras", roi_argument(roi)], capfd)
    assert status == 0, err_text
    for name in ("result.json", "lesions.csv", "report.html", "gbm-met_cam.nii.gz"):
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]

    # the CAM has exactly the T2 input's geometry
    t2 = sitk.ReadImage(str(case.files["t2"]))
    cam = sitk.ReadImage(str(out / "gbm-met_cam.nii.gz"))
    assert cam.GetSize() == t2.GetSize()
    assert cam.GetSpacing() == pytest.approx(t2.GetSpacing(), abs=1e-5)
    assert cam.GetOrigin() == pytest.approx(t2.GetOrigin(), abs=1e-4)
    assert cam.GetDirection() == pytest.approx(t2.GetDirection(), abs=1e-5)
    assert cam.GetPixelID() == sitk.sitkFloat32
    values = sitk.GetArrayViewFromImage(cam)
    assert values.min() >= 0.0 and values.max() <= 1.0

    result = json.loads((out / "result.json").read_text())
    assert {"tasks", "device", "models", "timings_s"} <= set(result)
    assert result["device"] == "cpu"
    answer = result["tasks"]["gbm-met"]
    assert 0.0 <= answer["predictive_index"] <= 1.0
    assert answer["label"] in ("GBM", "metastasis")
    assert answer["label"] == ("GBM" if answer["predictive_index"] >= answer["cutoff"] else "metastasis")
    card = ModelRegistry.load(BUNDLED_REGISTRY).model_sets(gbm_met.TASK)[-1].card()
    assert answer["cutoff_source"] == card["cutoffs"]["predictive_index"].get("source", answer["cutoff_source"])
    assert answer["cutoff_source"].startswith(("paper (Shin 2021)", "model set"))
    assert isinstance(answer["n_slices"], int) and answer["n_slices"] > 0
    assert len(answer["slice_votes"]) == answer["n_slices"]
    assert result["models"]["gbm-met"]["demo"] is True and result["models"]["gbm-met"]["notice"]
    assert all(seconds >= 0 for seconds in result["timings_s"].values())
    assert file_hashes(case.folder) == before
