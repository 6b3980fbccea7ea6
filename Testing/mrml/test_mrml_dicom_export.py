"""Export to DICOM from the panel's logic on a real MRML scene: volumes that came from DICOM (their
instance UIDs on the node, as Slicer's DICOM loader leaves them), a run folder made from the volume
the logic writes for the core, and the objects checked in physical space."""

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from BrainTumorAILib.dicom.mr_writer import Study, write_mr_series
from BrainTumorAILib.dicom.series import read_folder
from BrainTumorAILib.image import write_image
from BrainTumorAILib.tasks.metastases.lesions import label_components, lesion_table
from BrainTumorAISlicer import BrainTumorAIError
from BrainTumorAISlicer.dicom_export import INSTANCE_UIDS_ATTRIBUTE, export_run_to_dicom
from BrainTumorAISlicer.scene_io import read_volume, write_volume
from conftest import make_image, rotation_matrix
from mrml_scene import scene  # noqa: F401 - scene is a fixture


class InstanceFileIndex:
    """Stand-in for Slicer's DICOM database (ctkDICOMDatabase): the two calls the export makes,
    `fileForInstance(uid)` and `insert(path)`, over files on disk."""

    def __init__(self, folders):
        self.files = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID): str(p)
                      for folder in folders for p in sorted(folder.iterdir())}
        self.inserted = []

    def fileForInstance(self, uid):
        return self.files.get(uid, "")

    def insert(self, path):
        self.inserted.append(path)


@pytest.fixture
def dicom_case(scene, tmp_path):  # noqa: F811 - the fixture
    """T1CE and T2 series of one study, loaded as volume nodes marked with their instance UIDs."""
    study, direction = Study(), rotation_matrix(10, -6, 18)
    images = {"t1ce": sitk.Abs(make_image(size=(18, 16, 9), spacing=(1.1, 0.9, 3.0), direction=direction)) + 1,
              "t2": sitk.Abs(make_image(size=(14, 12, 5), spacing=(1.4, 1.4, 6.0), direction=direction, seed=2)) + 1}
    nodes, folders = {}, {}
    for number, (name, image) in enumerate(images.items(), start=1):
        folders[name] = tmp_path / "dicom" / name
        write_mr_series(image, folders[name], study, name.upper(), number)
        series = read_folder(folders[name], name)
        nodes[name] = read_volume(write_image(series.image, tmp_path / f"{name}.nrrd"), name)
        nodes[name].SetAttribute(INSTANCE_UIDS_ATTRIBUTE, " ".join(str(d.SOPInstanceUID) for d in series.datasets))
    return nodes, folders


def finished_run(t1ce_node, run_dir):
    """A run folder as the core writes it, its lesion labels on the grid of the volume the logic
    wrote for the core (the T1CE node through its storage node)."""
    run_dir.mkdir()
    grid = sitk.ReadImage(str(write_volume(t1ce_node, run_dir / "t1ce_input.nrrd")))
    mask = np.zeros(sitk.GetArrayViewFromImage(grid).shape, np.uint8)
    mask[1:4, 2:6, 3:8] = mask[5:8, 9:13, 11:15] = 1
    image = sitk.GetImageFromArray(mask)
    image.CopyInformation(grid)
    labels = label_components(image, 0.0)
    write_image(labels, run_dir / "mets-3d_seg.nii.gz")
    model = {"name": "mets-3d-demo", "version": "1.0.0", "demo": True, "notice": "Demo weights"}
    result = {"tasks": {"mets-3d": {"lesions": lesion_table(labels)}}, "models": {"mets-3d": model}}
    (run_dir / "result.json").write_text(json.dumps(result))
    return labels


def test_export_writes_seg_and_report_on_the_source_series_and_adds_them_to_the_database(dicom_case, tmp_path):
    nodes, folders = dicom_case
    labels = finished_run(nodes["t1ce"], tmp_path / "run")
    database = InstanceFileIndex(folders.values())
    files = export_run_to_dicom(tmp_path / "run", nodes, tmp_path / "out", database=database)
    assert sorted(p.name for p in files) == ["mets-3d_seg.dcm", "report_sr.dcm"]
    assert database.inserted == [str(p) for p in files]

    seg = pydicom.dcmread(tmp_path / "out" / "mets-3d_seg.dcm")
    t1ce_series = pydicom.dcmread(next(folders["t1ce"].iterdir()), stop_before_pixels=True).SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == t1ce_series
    # every SEG frame, placed by its own position, equals the labels of the run
    expected, found = sitk.GetArrayFromImage(labels), np.zeros(sitk.GetArrayViewFromImage(labels).shape, np.uint8)
    frames = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence):
        index = labels.TransformPhysicalPointToContinuousIndex(
            [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient])
        k = int(round(index[2]))
        np.testing.assert_allclose(index, [0, 0, k], atol=1e-3)
        found[k][frame > 0] = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
    np.testing.assert_array_equal(found, expected)


def test_a_series_folder_serves_for_a_volume_that_did_not_come_from_dicom(dicom_case, tmp_path):
    nodes, folders = dicom_case
    finished_run(nodes["t1ce"], tmp_path / "run")
    files = export_run_to_dicom(tmp_path / "run", {"t1ce": nodes["t1ce"], "t2": folders["t2"]}, tmp_path / "out",
                                database=InstanceFileIndex(folders.values()))
    assert (tmp_path / "out" / "report_sr.dcm") in files


def test_a_volume_not_from_dicom_is_refused_in_one_line(dicom_case, tmp_path):
    nodes, folders = dicom_case
    finished_run(nodes["t1ce"], tmp_path / "run")
    nodes["t2"].RemoveAttribute(INSTANCE_UIDS_ATTRIBUTE)
    with pytest.raises(BrainTumorAIError, match=r"volume 't2' was not loaded from DICOM"):
        export_run_to_dicom(tmp_path / "run", nodes, tmp_path / "out", database=InstanceFileIndex(folders.values()))
    assert not (tmp_path / "out").exists()
