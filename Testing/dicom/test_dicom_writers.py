"""The DICOM writers without a PACS: what each object holds, read back with highdicom and pydicom,
on small oblique, anisotropic series (T1CE and a thick-slice T2 of one study)."""

import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from BrainTumorAILib.dicom import codes
from BrainTumorAILib.dicom.export import build_objects, export_dicom
from BrainTumorAILib.dicom.mr_writer import Study, write_mr_series
from BrainTumorAILib.dicom.series import read_folder
from BrainTumorAILib.errors import InputError
from BrainTumorAILib.tasks.metastases.lesions import label_components, lesion_table
from conftest import make_image, rotation_matrix

MODEL = {"name": "mets-3d-demo", "version": "1.0.0", "demo": True, "notice": "Demo weights - not for clinical use"}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder, study = tmp_path_factory.mktemp("study"), Study()
    direction = rotation_matrix(12, -7, 20)
    t1ce = sitk.Abs(make_image(size=(20, 18, 10), spacing=(1.2, 1.0, 2.5), direction=direction)) + 1
    t2 = sitk.Abs(make_image(size=(16, 15, 5), spacing=(1.5, 1.5, 5.0), direction=direction, seed=1)) + 1
    write_mr_series(t1ce, folder / "t1ce", study, "T1 post contrast", 1)
    write_mr_series(t2, folder / "t2", study, "T2 TSE", 2)
    return {name: read_folder(folder / name, name) for name in ("t1ce", "t2")}


def run_outputs(sources, with_lesions=True):
    """result.json content and images as the runner makes them, on the source grids."""
    grid = sources["t1ce"].image
    mask = np.zeros(sitk.GetArrayViewFromImage(grid).shape, np.uint8)
    if with_lesions:
        mask[2:6, 3:8, 4:9] = 1
        mask[7:9, 12:15, 14:18] = 1
    labels = label_components(_on(mask, grid), 0.0)
    probability = _on(mask.astype(np.float32) * 0.9, grid)
    lesions = lesion_table(labels, probability)
    t2_cam = _on(np.linspace(0, 1, sources["t2"].image.GetNumberOfPixels(), dtype=np.float32).reshape(
        sitk.GetArrayViewFromImage(sources["t2"].image).shape), sources["t2"].image)
    result = {"tasks": {
        "mets-3d": {"lesions": lesions},
        "gbm-met": {"label": "GBM", "predictive_index": 0.64, "cutoff": 0.5, "cutoff_source": "paper (Shin 2021)"},
        "tumour-type": {"label": "hgg", "probabilities": {"hgg": 0.6, "lgg": 0.1, "metastasis": 0.1, "meningioma": 0.05,
                                                          "pituitary": 0.05, "schwannoma": 0.05, "healthy": 0.05}},
    }, "models": {"mets-3d": MODEL, "gbm-met": {**MODEL, "name": "gbm-met-demo"},
                  "tumour-type": {**MODEL, "name": "tumour-type-demo", "demo": False}}}
    images = {"mets-3d_seg.nii.gz": labels, "mets-3d_prob.nii.gz": probability, "gbm-met_cam.nii.gz": t2_cam}
    return result, images


def _on(array, grid):
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(grid)
    return image


def test_each_object_references_its_source_series(sources):
    result, images = run_outputs(sources)
    objects = build_objects(result, images, sources)
    assert sorted(objects) == ["gbm-met_cam.dcm", "mets-3d_seg.dcm", "report_sr.dcm"]
    first = sources["t1ce"].first
    for dataset in objects.values():
        assert (dataset.PatientID, dataset.PatientName, dataset.StudyInstanceUID) == (
            first.PatientID, first.PatientName, first.StudyInstanceUID)
    referenced = {name: {s.SeriesInstanceUID for s in objects[name].ReferencedSeriesSequence}
                  for name in ("mets-3d_seg.dcm", "gbm-met_cam.dcm")}
    assert referenced == {"mets-3d_seg.dcm": {sources["t1ce"].series_uid},
                          "gbm-met_cam.dcm": {sources["t2"].series_uid}}
    assert "DEMO WEIGHTS" in objects["mets-3d_seg.dcm"].SeriesDescription


def test_the_report_holds_the_verdict_its_cutoff_and_source_and_the_class_probabilities(sources):
    result, images = run_outputs(sources)
    sr = hd.sr.Comprehensive3DSR.from_dataset(build_objects(result, images, sources)["report_sr.dcm"])
    groups = {g.tracking_identifier: g for g in sr.content.get_image_measurement_groups()}
    verdict = groups["gbm-met verdict"]
    answer = result["tasks"]["gbm-met"]
    assert verdict.finding_type == codes.GLIOBLASTOMA
    assert verdict.get_measurements(name=codes.PREDICTIVE_INDEX)[0].value == answer["predictive_index"]
    assert verdict.get_measurements(name=codes.CUTOFF)[0].value == answer["cutoff"]
    parameters = _parameters(verdict[0])  # the group template's container item
    assert f"cutoff source: {answer['cutoff_source']}" in parameters and "demo weights: yes" in parameters
    tumour = groups["tumour-type"]
    assert tumour.finding_type == codes.TUMOUR_CLASSES["hgg"]
    for name, probability in result["tasks"]["tumour-type"]["probabilities"].items():
        assert tumour.get_measurements(name=codes.class_probability(name))[0].value == probability
    assert "demo weights: no" in _parameters(tumour[0])
    lesions = sr.content.get_volumetric_roi_measurement_groups()
    assert [g.referenced_segment.referenced_segment_numbers for g in lesions] == [[1], [2]]
    assert groups["mets-3d lesion count"].get_measurements(name=codes.LESION_COUNT)[0].value == 2


def _parameters(item) -> list[str]:
    """The text values of the algorithm parameters (DCM 111002, TID 4019) anywhere under `item`."""
    found = []
    for child in getattr(item, "ContentSequence", []):
        if child.ConceptNameCodeSequence[0].CodeValue == "111002":
            found.append(child.TextValue)
        found += _parameters(child)
    return found


def test_no_lesion_means_no_seg_and_no_lesion_groups(sources):
    result, images = run_outputs(sources, with_lesions=False)
    objects = build_objects(result, images, sources)
    assert "mets-3d_seg.dcm" not in objects
    sr = hd.sr.Comprehensive3DSR.from_dataset(objects["report_sr.dcm"])
    assert sr.content.get_volumetric_roi_measurement_groups() == []
    count = next(g for g in sr.content.get_image_measurement_groups()
                 if g.tracking_identifier == "mets-3d lesion count")
    assert count.get_measurements(name=codes.LESION_COUNT)[0].value == 0


def test_an_image_off_the_source_grid_is_refused(sources):
    result, images = run_outputs(sources)
    moved = sitk.Image(images["mets-3d_seg.nii.gz"])
    moved.SetOrigin(tuple(np.add(moved.GetOrigin(), (0.5, 0, 0))))
    with pytest.raises(ValueError, match="mets-3d: the label image is not on the grid of its source series"):
        build_objects(result, {**images, "mets-3d_seg.nii.gz": moved}, sources)


def test_the_same_voxels_listed_in_another_order_give_the_same_seg(sources):
    result, images = run_outputs(sources)
    labels = images["mets-3d_seg.nii.gz"]
    flipped = sitk.Flip(labels, [False, True, True])  # the same voxels; y and z listed backwards
    assert flipped.GetDirection() != labels.GetDirection()
    straight = build_objects(result, images, sources)["mets-3d_seg.dcm"]
    reordered = build_objects(result, {**images, "mets-3d_seg.nii.gz": flipped}, sources)["mets-3d_seg.dcm"]
    np.testing.assert_array_equal(reordered.pixel_array, straight.pixel_array)


def test_nifti_inputs_cannot_be_written_as_dicom(sources):
    result, images = run_outputs(sources)
    with pytest.raises(InputError, match=r"--dicom-out needs the t2 input\(s\) as DICOM"):
        build_objects(result, images, {"t1ce": sources["t1ce"]})


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed (Debian: dicom3tools)")
def test_written_files_pass_dciodvfy_and_reload_as_a_run(sources, tmp_path):
    result, images = run_outputs(sources)
    written = export_dicom(result, images, sources, tmp_path / "dicom")
    for name in written["files"]:
        checked = subprocess.run(["dciodvfy", str(tmp_path / "dicom" / name)], capture_output=True, text=True)
        assert [line for line in (checked.stdout + checked.stderr).splitlines() if line.startswith("Error")] == []
    seg = pydicom.dcmread(tmp_path / "dicom" / "mets-3d_seg.dcm")
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["mets-3d lesion 1", "mets-3d lesion 2"]
