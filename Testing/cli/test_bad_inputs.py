"""Bad inputs and careless use, one parametrised case per finding: every probe that once broke the
command line stays here (add a case with every new bug).

Each probe must end with exit status 2 and one stderr line `error: ...` naming the problem, the
inputs untouched and an earlier output folder as it was; those refused before any computation
also prove it (preprocessing and the runner are replaced by a tripwire).
"""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

import BrainTumorAILib.preprocessing as preprocessing_package
import BrainTumorAILib.runner as runner_module
from BrainTumorAILib.outputs import guard_output
from BrainTumorAILib.synthetic import make_case
from test_cli import braintumorai, check_refused, file_hashes, main_in_process, private_registry  # noqa: F401

FAST = ["--brain-extraction", "none", "--no-bias-correction", "--resample-mm", "3"]


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """A 3 mm synthetic head in the layout `synth` writes (the scans in one folder)."""
    folder = make_case(tmp_path_factory.mktemp("synth"), "gbm", 11, voxel_mm=3.0)
    return SimpleNamespace(folder=folder, files={name: folder / f"{name}.nii.gz" for name in ("t1ce", "t2", "flair")})


def tripwire(*args, **kwargs):
    raise AssertionError("computation started before the output folder was checked")


Probe = namedtuple("Probe", "argv message setup before_computation", defaults=(None, True))


def _link_to_case(case, tmp_path):
    (tmp_path / "link").symlink_to(case.folder, target_is_directory=True)


def _earlier_run(case, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mets-3d_seg.nii.gz").write_bytes(b"an earlier run")


def _existing_file(case, tmp_path):
    (tmp_path / "out").write_text("a file")


def _itk_fails(case, tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        return sitk.ReadImage(str(tmp_path / "vanished.nii.gz"))  # ITK's own RuntimeError

    monkeypatch.setattr(preprocessing_package, "preprocess", failing)


def _disk_fails(case, tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr(preprocessing_package, "preprocess", failing)


def _little_space(case, tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**30, 2**30 - 2**20, 2**20))


def _write(image, path):
    sitk.WriteImage(image, str(path))


def _tiny_voxels(case, tmp_path):
    """48^3 voxels of 0.1 mm at the centre of the T1CE (so the sequences overlap)."""
    t1ce = sitk.ReadImage(str(case.files["t1ce"]))
    centre = t1ce.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in t1ce.GetSize()])
    array = np.random.default_rng(0).normal(100, 10, (48, 48, 48)).astype(np.float32)
    array[12:36, 12:36, 12:36] += 200
    tiny = sitk.GetImageFromArray(array)
    tiny.SetSpacing((0.1, 0.1, 0.1))
    tiny.SetOrigin(tuple(np.array(centre) - 2.4))
    _write(tiny, tmp_path / "bad_t2.nii.gz")


def _ten_mm_header(case, tmp_path):
    """The T2's array with a header claiming 10 mm voxels: a head metres long."""
    t2 = sitk.ReadImage(str(case.files["t2"]))
    t2.SetSpacing((10.0, 10.0, 10.0))
    _write(t2, tmp_path / "bad_t2.nii.gz")


PROBES = {
    # finding: preprocess --out <the case folder> overwrote the user's scans (exit 0)
    "preprocess into the case folder": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {case} {fast}",
                                             r"--out .* holds the input .*t1ce"),
    "preprocess into the case folder, --overwrite": Probe(
        "preprocess --t1ce {t1ce} --t2 {t2} --out {case} --overwrite {fast}", r"--out .* holds the input"),
    "preprocess into a link to the case folder": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/link {fast}",
                                                       r"--out .*link holds the input", _link_to_case),
    "preprocess onto an input file": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {t2} {fast}",
                                           r"--out .* is the input .*t2"),
    "run into the folder above the case": Probe("run --t1ce {t1ce} --t2 {t2} --out {case}/.. --tasks tumour-type",
                                                r"--out .* holds the input"),
    # finding: an earlier run's files stayed beside the new ones (mixed results)
    "non-empty --out": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out {fast}",
                             r"--out .*out is not empty.*--overwrite", _earlier_run),
    # finding: an existing-file or full --out failed with a traceback after all the computation
    "--out is an existing file": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out {fast}",
                                       r"--out .*out is an existing file", _existing_file),
    "--out without the space for the results": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out {fast}",
                                                     r"1 MiB free .* need about", _little_space),
    # finding: OSError and ITK errors during the work ended in tracebacks
    "ITK error during the work": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out {fast}",
                                       r"^error: ITK: .*vanished\.nii\.gz", _itk_fails, False),
    "disk error during the work": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out {fast}",
                                        r"^error: No space left on device: .*out", _disk_fails, False),
    # finding: a 0.1 mm 48^3 volume crashed N4 with a 44-line traceback
    "0.1 mm voxels": Probe("preprocess --t1ce {t1ce} --t2 {tmp}/bad_t2.nii.gz --out {tmp}/out {fast}",
                           r"t2: spacing 0\.1 mm is below the limit of 0\.2 mm \(--min-spacing-mm\)", _tiny_voxels),
    "0.1 mm voxels, limits lifted": Probe(
        "preprocess --t1ce {t1ce} --t2 {tmp}/bad_t2.nii.gz --out {tmp}/out --min-spacing-mm 0.01 --min-extent-mm 1 "
        "--no-registration --resample-mm 3 --brain-extraction none", r"^error: ITK: ", _tiny_voxels, False),
    # finding: a header claiming 10 mm on a 1 mm array registered for more than 300 s
    "10 mm header on a fine array": Probe("preprocess --t1ce {t1ce} --t2 {tmp}/bad_t2.nii.gz --out {tmp}/out {fast}",
                                          r"t2: field of view .* mm exceeds the limit of 500 mm \(--max-extent-mm\)",
                                          _ten_mm_header),
    "more voxels than allowed": Probe("preprocess --t1ce {t1ce} --t2 {t2} --out {tmp}/out --max-voxels 1000 {fast}",
                                      r"t1ce: \d+ voxels .* exceed the limit of 1000 \(--max-voxels\)"),
    "quality thresholds with an unknown key": Probe(
        "run --t1ce {t1ce} --t2 {t2} --out {tmp}/out --tasks tumour-type --quality-thresholds {tmp}/q.json",
        r"quality thresholds .*q\.json: unknown key 'coverage'", lambda case, tmp: (tmp / "q.json").write_text(
            '{"coverage": 0.5}')),
    "bad stage timeout": Probe("run --t1ce {t1ce} --t2 {t2} --out {tmp}/out --tasks tumour-type --stage-timeout 0",
                               r"--stage-timeout must be positive"),
}


@pytest.mark.parametrize("name", list(PROBES))
def test_bad_input_is_refused_in_one_line(name, case, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(tmp_path / "cache"))
    probe = PROBES[name]
    if probe.before_computation:
        monkeypatch.setattr(preprocessing_package, "preprocess", tripwire)
        monkeypatch.setattr(runner_module, "run_case", tripwire)
    if probe.setup is not None:
        arguments = (case, tmp_path, monkeypatch)[:probe.setup.__code__.co_argcount]
        probe.setup(*arguments)
    argv = probe.argv.format(t1ce=case.files["t1ce"], t2=case.files["t2"], case=case.folder, tmp=tmp_path,
                             fast=" ".join(FAST)).split()
    before = file_hashes(case.folder.parent, tmp_path)
    status, out_text, err_text = main_in_process(argv, capfd)
    check_refused(status, out_text, err_text, probe.message)
    assert file_hashes(case.folder.parent, tmp_path) == before  # inputs and any earlier output as they were
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no lock or staging left


def test_a_second_run_into_a_folder_being_written_is_refused(case, tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(preprocessing_package, "preprocess", tripwire)
    out = tmp_path / "out"
    with guard_output(out, []):  # the first run, still writing
        status, out_text, err_text = main_in_process(
            ["preprocess", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"], "--out", out, *FAST], capfd)
    check_refused(status, out_text, err_text, r"--out .*out is being written by another run")


def test_overwrite_replaces_an_earlier_output_whole(case, tmp_path, capfd):
    _earlier_run(case, tmp_path)
    out = tmp_path / "out"
    status, _, err_text = main_in_process(["preprocess", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"],
                                           "--out", out, "--overwrite", "--no-registration", *FAST], capfd)
    assert status == 0, err_text
    assert sorted(p.name for p in out.iterdir()) == ["brain_mask.nii.gz", "preprocessing.json", "t1ce.nii.gz",
                                                     "t2.nii.gz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


SIGTERM_WHILE_WRITING = textwrap.dedent("""
    import os, signal, sys
    from BrainTumorAILib import cli
    from BrainTumorAILib.preprocessing.case import PreprocessedCase

    write = PreprocessedCase.write
    def write_then_terminated(self, folder):
        write(self, folder)  # a complete-looking result in the staging folder
        os.kill(os.getpid(), signal.SIGTERM)  # the panel's Cancel
    PreprocessedCase.write = write_then_terminated
    sys.exit(cli.main(sys.argv[1:]))
""")


def test_sigterm_while_writing_leaves_nothing_and_fails(case, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_WRITING, "preprocess", "--t1ce", case.files["t1ce"],
                             "--t2", case.files["t2"], "--out", out, "--no-registration", *FAST],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 128 + signal.SIGTERM, result.stderr
    assert result.stderr.strip().splitlines() == ["error: terminated"]
    assert list(tmp_path.iterdir()) == []  # no .partial-*, no lock, no out


@pytest.mark.parametrize("sigint", ["handled", "ignored"])
def test_a_stage_running_past_the_stage_timeout_ends_the_command_cleanly(case, tmp_path, sigint):
    """Also where SIGINT is ignored, as in a batch script's background job (`cmd &`): there the
    watchdog's interrupt once did nothing and the command ran to the end."""
    out = tmp_path / "out"
    argv = ["preprocess", "--t1ce", case.files["t1ce"], "--t2", case.files["t2"], "--out", out,
            "--stage-timeout", "0.01", "--resample-mm", "3", "--brain-extraction", "none"]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN if sigint == "ignored" else signal.default_int_handler)
    try:  # the child inherits an ignored SIGINT, as a background job's process does
        result = braintumorai(*argv)
    finally:
        signal.signal(signal.SIGINT, previous)
    check_refused(result.returncode, result.stdout, result.stderr,
                  r"stage '\w+' ran longer than --stage-timeout 0\.01 s")
    assert list(tmp_path.iterdir()) == []


def test_a_head_on_a_10_mm_grid_is_answered_but_marked_unreliable(case, private_registry, tmp_path, capfd):
    """finding: a head on a 10 mm grid got GBM 0.99 with no warning."""
    coarse = {}
    for name in ("t1ce", "t2"):
        image = sitk.ReadImage(str(case.files[name]))
        grid = sitk.Image([int(np.ceil(n * s / 10.0)) for n, s in zip(image.GetSize(), image.GetSpacing())],
                          sitk.sitkFloat32)
        grid.SetSpacing((10.0, 10.0, 10.0))
        grid.SetOrigin(image.GetOrigin())
        grid.SetDirection(image.GetDirection())
        coarse[name] = tmp_path / f"{name}.nii.gz"
        _write(sitk.Resample(sitk.Cast(image, sitk.sitkFloat32), grid), coarse[name])
    roi = json.loads((case.folder / "truth.json").read_text())["roi_ras_by_sequence"]["t2"]
    out = tmp_path / "out"
    status, _, err_text = main_in_process(
        ["run", "--t1ce", coarse["t1ce"], "--t2", coarse["t2"], "--out", out, "--tasks", "gbm-met", "--device", "cpu",
         "--roi-ras", ",".join(f"{v:g}" for v in roi)], capfd)
    assert status == 0, err_text
    quality = json.loads((out / "result.json").read_text())["quality"]
    task = quality["tasks"]["gbm-met"]
    assert task["status"] == "unreliable" and quality["status"] in ("unreliable", "failed")
    assert task["checks"]["t2_in_plane_mm"] == {"status": "unreliable", "value": 10.0, "threshold": 1.5,
                                                "message": task["checks"]["t2_in_plane_mm"]["message"]}
    assert "gbm-met UNRELIABLE: t2 in-plane spacing 10.0 mm is coarser than" in err_text
    assert "Input quality: unreliable" in (out / "report.html").read_text()
