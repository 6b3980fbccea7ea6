"""First-use installation: asks first, holds Slicer's numpy and SimpleITK, torch via the PyTorch extension."""

import importlib.metadata
import subprocess
import sys
import types
from pathlib import Path

import numpy
import pytest
import SimpleITK
import slicer.util

from BrainTumorAISlicer import dependencies
from BrainTumorAISlicer.errors import BrainTumorAIError


class PipInstallRecorder:
    """Stand-in for the application's slicer.util.pip_install: records the call and its constraints."""

    def __init__(self):
        self.calls = []

    def __call__(self, arguments):
        # Slicer's pip_install(requirements): a list is passed to pip as its arguments, one each
        assert arguments[0] == "-c", "constraints must travel as pip's own -c argument"
        self.calls.append((list(arguments[2:]), Path(arguments[1]).read_text()))


@pytest.fixture
def pip_install(monkeypatch):
    recorder = PipInstallRecorder()
    monkeypatch.setattr(slicer.util, "pip_install", recorder, raising=False)
    return recorder


def test_nothing_is_asked_or_installed_when_everything_is_there(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: False)
    assert dependencies.ensure_dependencies(lambda question: pytest.fail("asked without need"))
    assert pip_install.calls == []


def test_declining_installs_nothing(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2"])
    questions = []
    assert not dependencies.ensure_dependencies(lambda question: questions.append(question) or False)
    assert "monai>=1.3,<2" in questions[0] and pip_install.calls == []


def test_accepting_installs_the_missing_packages_with_numpy_simpleitk_and_torch_held(monkeypatch, pip_install,
                                                                                     tmp_path):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2", "deepbet>=1.0.2,<2"])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: False)
    spaced = tmp_path / "a folder with spaces"
    spaced.mkdir()
    monkeypatch.setattr(dependencies.tempfile, "tempdir", str(spaced))
    assert dependencies.ensure_dependencies(lambda question: True)
    [(requirements, constraints)] = pip_install.calls
    assert requirements == ["monai>=1.3,<2", "deepbet>=1.0.2,<2"]
    assert constraints.splitlines() == [f"numpy=={numpy.__version__}", f"SimpleITK=={SimpleITK.__version__}",
                                        f"torch=={importlib.metadata.version('torch')}"]


def test_a_pip_failure_becomes_one_message(monkeypatch):
    def failing_pip(arguments):
        raise subprocess.CalledProcessError(1, ["pip", "install", *arguments])

    monkeypatch.setattr(slicer.util, "pip_install", failing_pip, raising=False)
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2"])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: False)
    with pytest.raises(BrainTumorAIError, match=r"installing monai>=1.3,<2 failed \(pip exit status 1\)"):
        dependencies.ensure_dependencies(lambda question: True)


def test_a_failing_torch_install_raises_a_message_not_the_installers_exception(monkeypatch, pip_install):
    class FailingPyTorchUtilsLogic:  # PyTorchUtils' real signature; it raises when pip fails
        def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None,
                         torchvisionVersionRequirement=None):
            assert askConfirmation is False and torchVersionRequirement == dependencies.TORCH_REQUIREMENT
            raise subprocess.CalledProcessError(1, "pip")

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=FailingPyTorchUtilsLogic))
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: True)
    with pytest.raises(BrainTumorAIError, match="PyTorch could not be installed"):
        dependencies.ensure_dependencies(lambda question: True)


def test_an_old_torch_counts_as_missing(monkeypatch):
    monkeypatch.setattr(dependencies.importlib.metadata, "version", lambda name: "1.13.1+cu117")
    assert dependencies.torch_needed()
    monkeypatch.setattr(dependencies.importlib.metadata, "version", lambda name: "2.13.0+cpu")
    assert not dependencies.torch_needed()


def test_under_testing_nothing_is_installed_and_the_missing_packages_are_named(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2"])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: False)
    with pytest.raises(BrainTumorAIError, match="Python packages missing: monai>=1.3,<2"):
        dependencies.ensure_dependencies(lambda question: pytest.fail("asked under --testing"), allow_install=False)
    assert pip_install.calls == []


def test_torch_needs_the_pytorch_extension(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    monkeypatch.setattr(dependencies, "torch_needed", lambda: True)
    with pytest.raises(BrainTumorAIError, match="install 'PyTorch' from the Extensions Manager"):
        dependencies.ensure_dependencies(lambda question: "torch>=2.1,<3 (through the PyTorch extension)" in question)


def test_this_environment_has_every_requirement():
    assert dependencies.missing_requirements() == [] and not dependencies.torch_needed()
