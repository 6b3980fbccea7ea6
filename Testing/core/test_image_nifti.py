"""NIfTI files that ITK 5.4 reads without complaint but wrongly: NaN voxels read as 0, a truncated
file zero-filled, a zero or negative pixdim replaced. `read_image` refuses each, naming it."""

import gzip
import struct

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import read_image, same_geometry
from conftest import make_image

PIXDIM_1 = 80  # byte offset of pixdim[1] (the first voxel size) in a NIfTI-1 header


def nifti_bytes(image: sitk.Image, tmp_path) -> bytes:
    path = tmp_path / "source.nii"
    sitk.WriteImage(image, str(path))
    return path.read_bytes()


def test_nan_and_inf_voxels_are_refused_although_itk_reads_them_as_zero(tmp_path):
    array = sitk.GetArrayFromImage(make_image())
    for value, name in ((np.nan, "nan.nii.gz"), (np.inf, "inf.nii")):
        spoilt = array.copy()
        spoilt[2, 3, 4] = value
        image = sitk.GetImageFromArray(spoilt)
        image.CopyInformation(make_image())
        path = tmp_path / name
        sitk.WriteImage(image, str(path))
        assert np.isfinite(sitk.GetArrayViewFromImage(sitk.ReadImage(str(path)))).all()  # ITK hides it
        with pytest.raises(InputError, match="t2: volume contains NaN or infinite values"):
            read_image(path, "t2")


@pytest.mark.parametrize("name", ["cut.nii", "cut.nii.gz"])
def test_truncated_files_are_refused(tmp_path, name):
    data = nifti_bytes(make_image(), tmp_path)
    cut = data[: len(data) * 2 // 3]
    path = tmp_path / name
    path.write_bytes(gzip.compress(cut)[:-20] if name.endswith(".gz") else cut)
    with pytest.raises(InputError, match=r"t1ce: cannot read .*cut\.nii.* \(corrupt or truncated NIfTI file\)"):
        read_image(path, "t1ce")


@pytest.mark.parametrize("pixdim", [0.0, -1.5])
def test_zero_or_negative_voxel_size_is_refused(tmp_path, pixdim):
    data = bytearray(nifti_bytes(make_image(), tmp_path))
    struct.pack_into("<f", data, PIXDIM_1, pixdim)
    path = tmp_path / "spacing.nii"
    path.write_bytes(bytes(data))
    message = r"flair: spacing \((0\.0|-1\.5), 1\.1, 3\.0\) mm \(NIfTI pixdim\) must be positive"
    with pytest.raises(InputError, match=message):
        read_image(path, "flair")


def test_good_nifti_files_still_read_exactly(tmp_path, oblique_image):
    for name in ("good.nii", "good.nii.gz"):
        path = tmp_path / name
        sitk.WriteImage(oblique_image, str(path))
        back = read_image(path, "t1")
        assert same_geometry(back, oblique_image, tol=1e-5)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(oblique_image))


def test_a_truncated_metaimage_error_is_one_informative_line(tmp_path, capfd):
    path = tmp_path / "cut.mha"
    sitk.WriteImage(make_image(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as error:
        read_image(path, "t2")
    message = str(error.value)
    assert "\n" not in message and message.startswith("t2: cannot read")
    assert "not read completely" in message  # what MetaIO printed on stderr, moved into the message
    assert "No such file or directory" not in message  # a stale errno, misleading for a file that exists
    assert capfd.readouterr().err == ""
