"""DICOM series in: slices stacked by position (not file name), exact LPS geometry from
ImageOrientationPatient, and one clear error for holes, mixtures and several series."""

import shutil

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from BrainTumorAILib.dicom.mr_writer import MAX_STORED, Study, write_mr_series
from BrainTumorAILib.dicom.series import read_folder
from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import read_image
from conftest import make_image, rotation_matrix


def oblique_volume(size=(12, 10, 7), spacing=(1.3, 0.9, 4.0)) -> sitk.Image:
    """Smooth positive values (so 12-bit storage keeps their order) on an oblique, anisotropic grid."""
    image = make_image(size=size, spacing=spacing, direction=rotation_matrix(17, -9, 24))
    return sitk.Abs(image) + 1.0


@pytest.fixture
def series_folder(tmp_path):
    image = oblique_volume()
    folder = tmp_path / "t1ce"
    write_mr_series(image, folder, Study(), "T1 post contrast", 3)
    return image, folder


def test_geometry_is_exact_and_slices_follow_position_not_file_name(series_folder):
    image, folder = series_folder
    # the writer numbers files in reverse slice order; shuffle the names once more
    files = sorted(folder.iterdir())
    for index, path in enumerate(files):
        path.rename(folder / f"x{(index * 5) % len(files):03d}.tmp")
    series = read_folder(folder, "t1ce")
    back = series.image
    assert back.GetSize() == image.GetSize()
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-7)
    original = sitk.GetArrayFromImage(image)
    expected = np.round((original - original.min()) / (original.max() - original.min()) * MAX_STORED)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), expected)
    # the headers are kept in slice order for the writers, without pixel data
    positions = [np.dot(d.ImagePositionPatient, back.GetDirection()[2::3]) for d in series.datasets]
    assert positions == sorted(positions) and all("PixelData" not in d for d in series.datasets)
    assert series.description == "T1 post contrast"


def test_read_image_takes_a_dicom_folder(series_folder):
    image, folder = series_folder
    assert read_image(folder, "t1ce").GetSize() == image.GetSize()


def _edit(folder, index, change):
    path = sorted(folder.iterdir())[index]
    dataset = pydicom.dcmread(path)
    change(dataset)
    dataset.save_as(path)


def _rotate(dataset):
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]


def _shrink(dataset):
    dataset.Rows = dataset.Rows - 1
    dataset.PixelData = dataset.PixelData[: dataset.Rows * dataset.Columns * 2]


def _shift_along_normal(dataset):
    normal = np.cross(dataset.ImageOrientationPatient[:3], dataset.ImageOrientationPatient[3:])
    dataset.ImagePositionPatient = list(np.array(dataset.ImagePositionPatient, dtype=float) + 1.0 * normal)


@pytest.mark.parametrize("change, message", [
    (lambda folder: sorted(folder.iterdir())[3].unlink(), r"is missing 1 slice\(s\): a gap of 8\.00 mm"),
    (lambda folder: _edit(folder, 2, _rotate), r"has mixed orientations"),
    (lambda folder: _edit(folder, 2, _shrink), r"has mixed image sizes"),
    (lambda folder: _edit(folder, 2, _shift_along_normal), r"has non-uniform slice spacing"),
    (lambda folder: shutil.copy(sorted(folder.iterdir())[2], folder / "copy.dcm"),
     r"has two slices at the same position"),
])
def test_a_broken_series_is_one_error_naming_the_problem(series_folder, change, message):
    _, folder = series_folder
    change(folder)
    with pytest.raises(InputError, match=r"^t1ce: DICOM series [0-9.]+ " + message):
        read_folder(folder, "t1ce")


def test_a_folder_with_several_series_is_refused_naming_them_unless_one_is_picked(tmp_path):
    study = Study()
    t1ce = write_mr_series(oblique_volume(), tmp_path / "study" / "a", study, "T1 post contrast", 1)
    t2 = write_mr_series(oblique_volume(size=(8, 9, 5)), tmp_path / "study" / "b", study, "T2 TSE", 2)
    listed = rf"(?=.*{t1ce} \(T1 post contrast, 7 images\))(?=.*{t2} \(T2 TSE, 5 images\))"
    with pytest.raises(InputError, match=r"holds 2 DICOM series, pick one with --series-uid: " + listed):
        read_folder(tmp_path / "study", "t1ce")
    assert read_folder(tmp_path / "study", "t2", {t2}).image.GetSize() == (8, 9, 5)


def test_a_folder_without_dicom_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"t2: no DICOM image series in folder"):
        read_folder(tmp_path, "t2")


def test_pixel_data_that_cannot_be_decoded_is_one_error(series_folder):
    _, folder = series_folder

    def truncate(dataset):
        dataset.PixelData = dataset.PixelData[:10]

    _edit(folder, 1, truncate)
    with pytest.raises(InputError, match=r"^t1ce: DICOM series [0-9.]+: cannot decode the pixel data of image "):
        read_folder(folder, "t1ce")
