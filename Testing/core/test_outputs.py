"""Output folders (BrainTumorAILib.outputs): never an input, never mixed, never half-written."""

import os
import shutil
from collections import namedtuple

import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.outputs import guard_output, staged_output


@pytest.fixture
def scans(tmp_path):
    """A case folder as `synth` and the README lay it out: the scans in one folder."""
    folder = tmp_path / "case"
    folder.mkdir()
    for name in ("t1ce", "t2"):
        (folder / f"{name}.nii.gz").write_bytes(name.encode() * 100)
    return folder


def inputs_of(folder):
    return [folder / "t1ce.nii.gz", folder / "t2.nii.gz"]


@pytest.mark.parametrize("where", ["the case folder", "its parent", "a link to the case folder", "an input file"])
def test_an_output_folder_that_is_or_holds_an_input_is_refused_even_with_overwrite(scans, where, tmp_path):
    out = {"the case folder": scans, "its parent": scans.parent, "an input file": scans / "t2.nii.gz",
           "a link to the case folder": tmp_path / "link"}[where]
    if where.startswith("a link"):
        out.symlink_to(scans, target_is_directory=True)
    with pytest.raises(InputError, match=r"--out .* (is|holds) the input"):
        with guard_output(out, inputs_of(scans), overwrite=True):
            pytest.fail("the guard let the command write")


def test_an_output_folder_inside_an_input_folder_is_refused(tmp_path):
    dicom = tmp_path / "dicom_t1ce"
    dicom.mkdir()
    (dicom / "1.dcm").write_bytes(b"x")
    with pytest.raises(InputError, match="lies inside the input folder"):
        with guard_output(dicom / "results", [dicom], overwrite=True):
            pytest.fail("the guard let the command write")


def test_a_non_empty_output_folder_needs_overwrite(scans, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("earlier")
    with pytest.raises(InputError, match="is not empty.*--overwrite"):
        with guard_output(out, inputs_of(scans)):
            pass
    assert (out / "earlier.txt").read_text() == "earlier"


def test_overwrite_replaces_the_folder_whole(scans, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mets-3d_seg.nii.gz").write_bytes(b"an earlier run's segmentation")
    (out / "result.json").write_text("{}")
    with guard_output(out, inputs_of(scans), overwrite=True):
        with staged_output(out, replace=True) as staging:
            (staging / "result.json").write_text('{"tasks": {"gbm-met": {}}}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "out"]  # no lock, staging or old folder left
    assert [p.name for p in out.iterdir()] == ["result.json"]


def test_a_failed_write_leaves_the_earlier_folder_as_it_was(scans, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text("earlier")
    with pytest.raises(KeyboardInterrupt):
        with guard_output(out, inputs_of(scans), overwrite=True):
            with staged_output(out, replace=True) as staging:
                (staging / "result.json").write_text("half")
                raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "out"]
    assert [p.name for p in out.iterdir()] == ["result.json"] and (out / "result.json").read_text() == "earlier"


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(scans, tmp_path):
    out = tmp_path / "out"
    with guard_output(out, inputs_of(scans)):
        with pytest.raises(InputError, match="being written by another run"):
            with guard_output(out, inputs_of(scans)):
                pass
    with guard_output(out, inputs_of(scans)):  # released: the next run may go
        pass


def test_an_existing_file_as_output_folder_is_refused(scans, tmp_path):
    out = tmp_path / "result.txt"
    out.write_text("not a folder")
    with pytest.raises(InputError, match="is an existing file"):
        with guard_output(out, inputs_of(scans)):
            pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_parent_is_refused_before_any_work(scans, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write in"):
            with guard_output(locked / "out", inputs_of(scans)):
                pass
    finally:
        locked.chmod(0o700)


def test_too_little_free_space_is_refused_before_any_work(scans, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5 * 2**20, 5 * 2**20))
    with pytest.raises(InputError, match=r"5 MiB free .* need about"):
        with guard_output(tmp_path / "out", inputs_of(scans), expected_bytes=100 * 2**20):
            pass


def test_an_output_folder_under_a_file_is_refused(scans, tmp_path):
    with pytest.raises(InputError, match="is a file, not a folder"):
        with guard_output(scans / "t2.nii.gz" / "out", inputs_of(scans)):
            pass
