"""Image I/O and validation: geometry round trips and the clear errors for bad volumes."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import lps_to_ras, ras_to_lps, read_image, same_geometry, validate_image, write_image
from conftest import make_image


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_round_trip_keeps_geometry_and_values(tmp_path, oblique_image, suffix):
    path = write_image(oblique_image, tmp_path / f"vol{suffix}")
    back = read_image(path, "t2")
    assert same_geometry(back, oblique_image, tol=1e-5)
    np.testing.assert_allclose(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(oblique_image), rtol=1e-6)
    assert not list(tmp_path.glob(".tmp-*")), "atomic write must not leave its temporary file"


def test_dicom_series_folder_reads_as_one_volume(tmp_path):
    image = sitk.Cast(make_image(size=(16, 18, 6), direction=np.eye(3)), sitk.sitkInt16)
    folder = tmp_path / "series"
    folder.mkdir()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        slice_image = image[:, :, k]
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        slice_image.SetMetaData("0020|000e", "1.2.826.0.1.3680043.2.1125.1")
        slice_image.SetMetaData("0020|0032", "\\".join(f"{v:.6f}" for v in position))
        slice_image.SetMetaData("0020|0037", "1\\0\\0\\0\\1\\0")
        slice_image.SetMetaData("0020|0013", str(k))
        slice_image.SetMetaData("0008|0060", "MR")
        writer.SetFileName(str(folder / f"{k:03d}.dcm"))
        writer.Execute(slice_image)
    back = read_image(folder, "t1ce")
    assert back.GetSize() == image.GetSize()
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-3)
    np.testing.assert_allclose(back.GetSpacing(), image.GetSpacing(), atol=1e-3)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))


@pytest.mark.parametrize("suffix", [".mhd", ".nhdr"])
def test_detached_header_formats_are_read(tmp_path, oblique_image, suffix):
    path = tmp_path / f"vol{suffix}"
    sitk.WriteImage(oblique_image, str(path))
    assert same_geometry(read_image(path, "t1"), oblique_image, tol=1e-5)


def test_ras_lps_flip_is_its_own_inverse():
    points = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]])
    np.testing.assert_array_equal(lps_to_ras(points), [[-1, -2, 3], [4, -5, -6]])
    np.testing.assert_array_equal(ras_to_lps(lps_to_ras(points)), points)


def _write_raw(tmp_path, image, name="bad.nrrd"):
    path = tmp_path / name
    sitk.WriteImage(image, str(path))
    return path


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: sitk.Image(10, 10, sitk.sitkFloat32), "expected a 3D volume, got a 2D image"),
        (lambda: sitk.Image([4, 4, 4, 3], sitk.sitkFloat32), "got a 4D image"),
        (lambda: sitk.Image([8, 8, 8], sitk.sitkVectorFloat32, 3), "3 components"),
        (lambda: sitk.Image([8, 8, 1], sitk.sitkFloat32), "single slice"),
    ],
)
def test_wrong_shapes_are_named(tmp_path, build, message):
    with pytest.raises(InputError, match=message):
        read_image(_write_raw(tmp_path, build()), "t1ce")


def test_nan_values_are_named(tmp_path):
    image = make_image()
    array = sitk.GetArrayFromImage(image)
    array[3, 4, 5] = np.nan
    bad = sitk.GetImageFromArray(array)
    bad.CopyInformation(image)
    with pytest.raises(InputError, match="t2: volume contains NaN"):
        read_image(_write_raw(tmp_path, bad), "t2")


def test_non_positive_spacing_and_degenerate_direction(tmp_path):
    path = _write_raw(tmp_path, make_image(direction=np.eye(3)), "ok.nrrd")
    text = path.read_bytes()
    spaced = tmp_path / "spacing.nrrd"
    spaced.write_bytes(text.replace(b"space directions: (0.90000000000000002,0,0)", b"space directions: (0,0,0)"))
    with pytest.raises(InputError, match="t1ce: (spacing|degenerate direction|cannot read)"):
        read_image(spaced, "t1ce")
    sheared = make_image(direction=np.eye(3))
    # SimpleITK refuses singular directions in SetDirection; a sheared one reaches the check
    sheared.SetDirection((1, 0.5, 0, 0, 1, 0, 0, 0, 1))
    with pytest.raises(InputError, match="t1ce: direction matrix is not orthonormal"):
        validate_image(sheared, "t1ce")


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"", "empty.nii.gz", "file is empty"),
        (b"not an image at all" * 10, "garbage.nii.gz", "cannot read"),
        (b"hello", "notes.txt", "unknown image format"),
    ],
)
def test_empty_corrupt_and_unknown_files(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_image(path, "flair")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="flair: file not found"):
        read_image(tmp_path / "nope.nii.gz", "flair")


def test_reading_does_not_modify_the_file(tmp_path, oblique_image):
    path = write_image(oblique_image, tmp_path / "t2.nii.gz")
    before = path.read_bytes()
    read_image(path, "t2")
    assert path.read_bytes() == before
