"""PACS -> BrainTumorAI -> PACS on a real Orthanc: a synthetic head as classic MR DICOM (oblique,
anisotropic) is stored with STOW-RS, `run --dicomweb --study` reads it, and the SEG, SR and
Parametric Map it stores back are fetched and checked against the run's own NIfTI and JSON output,
in physical space, and by dciodvfy. Then the failures a PACS user meets: server down or refusing,
no matching series, a missing slice.
"""

import contextlib
import http.server
import io
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import ParametricMapStorage

from BrainTumorAILib import cli
from BrainTumorAILib.dicom import codes
from BrainTumorAILib.dicom.dicomweb import DicomWebServer
from BrainTumorAILib.dicom.mr_writer import Study, write_case_study, write_mr_series
from BrainTumorAILib.models import ModelRegistry
from conftest import main_in_process
from orthanc_server import free_port, orthanc  # noqa: F401 - orthanc is a fixture

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "Resources" / "models"
TASKS = ("mets-3d", "tumour-type")
# Cheaper preprocessing than the bundled sets' (no brain extraction, no N4, a 3 mm grid): the round
# trip checks the DICOM side, which does not depend on how the networks' inputs were prepared.
FAST_PREPROCESSING = {"brain_extraction": "none", "bias_correction": False, "resample_mm": 3.0}


def one_error_line(err: str, pattern: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def dciodvfy_errors(path: Path) -> list[str]:
    checked = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def fast_models(tmp_path_factory):
    """A registry of our own with the bundled mets-3d and tumour-type sets and cheap preprocessing."""
    if not (BUNDLED / "registry.json").is_file():
        pytest.skip("no bundled model sets (make weights)")
    folder = tmp_path_factory.mktemp("models")
    bundled = ModelRegistry.load(BUNDLED / "registry.json")
    entries = []
    for task in TASKS:
        entry = bundled.default_for(task).entry
        for relative in [fold["path"] for fold in entry["folds"]] + [entry["card"]]:
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(BUNDLED / relative, folder / relative)
        # every lesion the vote makes, also the faint ones this cheap preprocessing leaves: the
        # round trip needs a segmentation to carry, not a confident one
        thresholds = {name: value for name, value in entry["thresholds"].items() if name != "lesion_peak"}
        entry = {**entry, "preprocessing": {**entry["preprocessing"], **FAST_PREPROCESSING}, "thresholds": thresholds}
        card = json.loads((folder / entry["card"]).read_text())
        cutoffs = {name: value for name, value in card.get("cutoffs", {}).items() if name in thresholds}
        (folder / entry["card"]).write_text(json.dumps({**card, "preprocessing": entry["preprocessing"],
                                                        "cutoffs": cutoffs}))
        entries.append(entry)
    (folder / "registry.json").write_text(json.dumps({"schema_version": 1, "model_sets": entries}))
    return folder


@pytest.fixture
def models(fast_models, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(fast_models))
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A 3 mm synthetic head with metastases, its four sequences as MR series of one study."""
    out = tmp_path_factory.mktemp("synth")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["synth", "--out", str(out), "--kind", "metastases", "--seed", "3", "--voxel-mm", "3"]) == 0
    case = Path(printed.getvalue().strip().splitlines()[-1])
    study = Study()
    dicom = out / "dicom"
    series = write_case_study(case, dicom, study)
    return SimpleNamespace(case=case, study=study, dicom=dicom, series=series)


def store_folder(url: str, folder: Path) -> None:
    DicomWebServer(url).store([pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))])


def study_series(url: str, study_uid: str, modality: str) -> list:
    """Every instance of the study's series of `modality`, fetched back from the server."""
    server = DicomWebServer(url)
    return [dataset for series in server.series_of_study(study_uid) if series["modality"] == modality
            for dataset in server.retrieve_series(study_uid, series["uid"])]


def frames_on_grid(dataset, grid: sitk.Image):
    """(slice index k of `grid`, frame pixels, per-frame item) for each frame of a multi-frame object,
    placed by the frame's own position and orientation, which must fall on `grid`'s slices exactly."""
    shared = dataset.SharedFunctionalGroupsSequence[0]
    orientation = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float)
    spacing = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]
    direction = np.array(grid.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(orientation, [*direction[:, 0], *direction[:, 1]], atol=1e-6)
    np.testing.assert_allclose(spacing, [grid.GetSpacing()[1], grid.GetSpacing()[0]], atol=1e-5)
    frames = dataset.pixel_array.reshape(-1, dataset.Rows, dataset.Columns)
    for frame, item in zip(frames, dataset.PerFrameFunctionalGroupsSequence):
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        index = np.array(grid.TransformPhysicalPointToContinuousIndex(position))
        k = int(round(index[2]))
        np.testing.assert_allclose(index, [0.0, 0.0, k], atol=1e-3)
        assert 0 <= k < grid.GetSize()[2]
        yield k, frame, item


def assert_segments_equal_lesions(seg, labels: sitk.Image) -> None:
    """Each SEG segment, placed in physical space, equals its lesion in `labels` (Dice 1)."""
    expected = sitk.GetArrayFromImage(labels)
    found = np.zeros_like(expected)
    for k, frame, item in frames_on_grid(seg, labels):
        found[k][frame > 0] = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    for lesion in np.unique(expected)[1:]:
        a, b = expected == lesion, found == lesion
        assert 2 * np.sum(a & b) / (a.sum() + b.sum()) == 1.0  # same grid, nothing resampled
    np.testing.assert_array_equal(found, expected)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed (Debian: dicom3tools)")
def test_round_trip_through_orthanc(orthanc, head, models, tmp_path, capfd):
    store_folder(orthanc, head.dicom)
    out, dicom_out = tmp_path / "run", tmp_path / "dicom"
    status, printed, err = main_in_process(
        ["run", "--dicomweb", orthanc, "--study", head.study.study_uid, "--out", out, "--dicom-out", dicom_out,
         "--tasks", ",".join(TASKS), "--device", "cpu"], capfd)
    assert status == 0, err
    result = json.loads((out / "result.json").read_text())
    assert result["case"] == head.study.study_uid
    assert sorted(p.name for p in dicom_out.iterdir()) == ["mets-3d_seg.dcm", "report_sr.dcm",
                                                            "tumour-type_cam.dcm"]

    segs = study_series(orthanc, head.study.study_uid, "SEG")
    reports = study_series(orthanc, head.study.study_uid, "SR")
    maps = [d for d in study_series(orthanc, head.study.study_uid, "OT") if d.SOPClassUID == ParametricMapStorage]
    assert len(segs) == 1 and len(reports) == 1 and len(maps) == 1
    seg, report, cam = segs[0], reports[0], maps[0]
    t1ce_uid = head.series["t1ce"]

    # every object belongs to the source patient, study and frame of reference, and references T1CE
    source = pydicom.dcmread(next((head.dicom / "t1ce").iterdir()))
    for dataset in (seg, report, cam):
        assert dataset.PatientID == source.PatientID and dataset.StudyInstanceUID == source.StudyInstanceUID
    for dataset in (seg, cam):
        assert dataset.FrameOfReferenceUID == source.FrameOfReferenceUID
        assert {item.SeriesInstanceUID for item in dataset.ReferencedSeriesSequence} == {t1ce_uid}

    # SEG: one segment per lesion of the table, equal to the NIfTI labels in physical space
    lesions = result["tasks"]["mets-3d"]["lesions"]
    assert lesions, "the phantom has metastases: the run must find some"
    assert [int(s.SegmentNumber) for s in seg.SegmentSequence] == [row["id"] for row in lesions]
    for segment in seg.SegmentSequence:
        assert segment.SegmentedPropertyTypeCodeSequence[0].CodeValue == codes.METASTATIC_NEOPLASM.value
        algorithm = segment.SegmentationAlgorithmIdentificationSequence[0]
        parameters = dict(item.split("=", 1) for item in algorithm.AlgorithmParameters.split(","))
        assert algorithm.AlgorithmName == "BrainTumorAI mets-3d"
        assert parameters["model set"] == result["models"]["mets-3d"]["name"]
        assert parameters["demo weights"] == ("yes" if result["models"]["mets-3d"]["demo"] else "no")
    assert_segments_equal_lesions(seg, sitk.ReadImage(str(out / "mets-3d_seg.nii.gz")))

    # SR: the numbers of result.json, each lesion pointing at its segment of that SEG
    sr = hd.sr.Comprehensive3DSR.from_dataset(report)
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(lesions)
    for group, row in zip(groups, lesions):
        assert group.tracking_identifier == f"mets-3d lesion {row['id']}"
        reference = group.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_segment_numbers == [row["id"]]
        for name, key in ((codes.VOLUME, "volume_mm3"), (codes.LONG_AXIS, "longest_diameter_mm"),
                          (codes.MAX_PROBABILITY, "max_probability"), (codes.FOLD_AGREEMENT, "fold_agreement")):
            assert group.get_measurements(name=name)[0].value == pytest.approx(row[key], abs=1e-9)
    tumour = result["tasks"]["tumour-type"]
    image_groups = sr.content.get_image_measurement_groups(tracking_uid=None)
    tumour_group = next(g for g in image_groups if g.tracking_identifier == "tumour-type")
    for name, probability in tumour["probabilities"].items():
        assert tumour_group.get_measurements(name=codes.class_probability(name))[0].value == pytest.approx(probability)
    notices = next(g for g in image_groups if g.tracking_identifier == "notices")
    assert {e.value.value for e in notices.get_qualitative_evaluations()} == {
        codes.RESEARCH_USE.value, codes.DEMO_WEIGHTS.value}

    # the activation map keeps its values (0-1 after the real-world value mapping)
    mapping = cam.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    cam_nifti = sitk.ReadImage(str(out / "tumour-type_cam.nii.gz"))
    expected = sitk.GetArrayFromImage(cam_nifti)
    placed = {k: frame.astype(float) * float(mapping.RealWorldValueSlope)
              for k, frame, _ in frames_on_grid(cam, cam_nifti)}
    assert sorted(placed) == list(range(expected.shape[0]))
    assert max(np.abs(placed[k] - expected[k]).max() for k in placed) <= 0.5 / 65535 + 1e-7

    # dciodvfy: no error on any object as written and as served back
    for path in sorted(dicom_out.iterdir()):
        assert dciodvfy_errors(path) == [], path.name
    for name, dataset in (("seg", seg), ("sr", report), ("cam", cam)):
        served = tmp_path / f"served_{name}.dcm"
        dataset.save_as(served, enforce_file_format=True)
        assert dciodvfy_errors(served) == [], name


class _Refusing(http.server.BaseHTTPRequestHandler):
    def _refuse(self):
        self.send_response(503, "Service Unavailable")
        self.end_headers()

    do_GET = do_POST = _refuse

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    server.shutdown()
    server.server_close()


def test_a_refusing_server_is_one_error_line(refusing_server, tmp_path, capfd):
    out = tmp_path / "out"
    status, _, err = main_in_process(["run", "--dicomweb", refusing_server, "--study", "1.2.3", "--out", out], capfd)
    assert status == cli.EXIT_BAD_INPUT
    one_error_line(err, r"DICOMweb server .* refused \(searching study 1\.2\.3\): HTTP 503")
    assert not out.exists()


def test_server_down_when_storing_keeps_the_local_results(head, models, tmp_path, capfd):
    down = f"http://127.0.0.1:{free_port()}/dicom-web"
    out, dicom_out = tmp_path / "run", tmp_path / "dicom"
    status, _, err = main_in_process(
        ["run", "--t1ce", head.dicom / "t1ce", "--t2", head.dicom / "t2", "--out", out, "--dicom-out", dicom_out,
         "--dicomweb", down, "--tasks", "tumour-type", "--device", "cpu"], capfd)
    assert status == cli.EXIT_BAD_INPUT
    # the run itself succeeded and printed its summary; then one error line, the last
    assert [line for line in err.splitlines() if "error" in line.lower()] == err.splitlines()[-1:]
    one_error_line(err.splitlines()[-1],
                   r"cannot be reached \(storing the results\).*kept in .*dicom.*run results kept in")
    assert (out / "result.json").is_file() and (out / "tumour-type_cam.nii.gz").is_file()
    assert sorted(p.name for p in dicom_out.iterdir()) == ["report_sr.dcm", "tumour-type_cam.dcm"]


def test_a_study_without_a_t2_series_is_refused_naming_its_series(orthanc, head, tmp_path, capfd):
    study = Study()
    image = sitk.ReadImage(str(head.case / "t1ce.nii.gz"))
    write_mr_series(image, tmp_path / "a", study, "T1 post contrast", 1)
    write_mr_series(image[:, :, :4], tmp_path / "b", study, "localizer", 2)
    store_folder(orthanc, tmp_path)
    status, _, err = main_in_process(["run", "--dicomweb", orthanc, "--study", study.study_uid,
                                      "--out", tmp_path / "out"], capfd)
    assert status == cli.EXIT_BAD_INPUT
    one_error_line(err, r"t2: study .* has no series named like t2 "
                        r"\(its series: (?=.*T1 post contrast)(?=.*localizer).*\); "
                        r"name one with --t2 series:UID")


def test_a_series_with_a_missing_slice_is_refused(orthanc, head, tmp_path, capfd):
    study = Study()
    for sequence, description in (("t1ce", "T1 post contrast"), ("t2", "T2 TSE")):
        write_mr_series(sitk.ReadImage(str(head.case / f"{sequence}.nii.gz")), tmp_path / sequence, study,
                        description, 1)
    sorted((tmp_path / "t1ce").iterdir())[10].unlink()
    store_folder(orthanc, tmp_path)
    status, _, err = main_in_process(["run", "--dicomweb", orthanc, "--study", study.study_uid,
                                      "--out", tmp_path / "out"], capfd)
    assert status == cli.EXIT_BAD_INPUT
    one_error_line(err, r"t1ce: DICOM series .* is missing 1 slice\(s\)")
    assert not (tmp_path / "out").exists()


def test_dicom_out_with_nifti_inputs_is_refused_before_the_run(head, tmp_path, capfd):
    status, _, err = main_in_process(["run", "--t1ce", head.case / "t1ce.nii.gz", "--t2", head.case / "t2.nii.gz",
                                      "--out", tmp_path / "out", "--dicom-out", tmp_path / "dicom"], capfd)
    assert status == cli.EXIT_BAD_INPUT
    one_error_line(err, r"--dicom-out needs the t1ce and t2 input\(s\) as DICOM")
    assert not (tmp_path / "out").exists() and not (tmp_path / "dicom").exists()


def test_preprocess_takes_dicom_series_folders_with_their_exact_geometry(head, tmp_path, capfd):
    out = tmp_path / "pre"
    status, _, err = main_in_process(
        ["preprocess", "--t1ce", head.dicom / "t1ce", "--t2", head.dicom / "t2", "--out", out, "--reference", "t1ce",
         "--resample-mm", "0", "--no-bias-correction", "--no-registration", "--brain-extraction", "none"], capfd)
    assert status == 0, err
    written, original = sitk.ReadImage(str(out / "t1ce.nii.gz")), sitk.ReadImage(str(head.case / "t1ce.nii.gz"))
    assert written.GetSize() == original.GetSize()
    np.testing.assert_allclose(written.GetOrigin(), original.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(written.GetSpacing(), original.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(written.GetDirection(), original.GetDirection(), atol=1e-6)
