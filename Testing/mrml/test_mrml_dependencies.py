"""First-use installation: asks first, holds Slicer's numpy and SimpleITK, torch via the PyTorch extension."""

import os

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

    def __call__(self, requirements):
        self.calls.append((list(requirements), open(os.environ["PIP_CONSTRAINT"]).read()))


@pytest.fixture
def pip_install(monkeypatch):
    recorder = PipInstallRecorder()
    monkeypatch.setattr(slicer.util, "pip_install", recorder, raising=False)
    monkeypatch.delenv("PIP_CONSTRAINT", raising=False)
    return recorder


def test_nothing_is_asked_or_installed_when_everything_is_there(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    monkeypatch.setattr(dependencies, "torch_missing", lambda: False)
    assert dependencies.ensure_dependencies(lambda question: pytest.fail("asked without need"))
    assert pip_install.calls == []


def test_declining_installs_nothing(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2"])
    questions = []
    assert not dependencies.ensure_dependencies(lambda question: questions.append(question) or False)
    assert "monai>=1.3,<2" in questions[0] and pip_install.calls == []


def test_accepting_installs_the_missing_packages_with_numpy_and_simpleitk_held(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: ["monai>=1.3,<2", "deepbet>=1.0.2,<2"])
    monkeypatch.setattr(dependencies, "torch_missing", lambda: False)
    assert dependencies.ensure_dependencies(lambda question: True)
    [(requirements, constraints)] = pip_install.calls
    assert requirements == ["monai>=1.3,<2", "deepbet>=1.0.2,<2"]
    assert constraints.splitlines() == [f"numpy=={numpy.__version__}", f"SimpleITK=={SimpleITK.__version__}"]
    assert "PIP_CONSTRAINT" not in os.environ  # restored after the install


def test_torch_needs_the_pytorch_extension(monkeypatch, pip_install):
    monkeypatch.setattr(dependencies, "missing_requirements", lambda: [])
    monkeypatch.setattr(dependencies, "torch_missing", lambda: True)
    with pytest.raises(BrainTumorAIError, match="install 'PyTorch' from the Extensions Manager"):
        dependencies.ensure_dependencies(lambda question: "torch (through the PyTorch extension)" in question)


def test_this_environment_has_every_requirement():
    assert dependencies.missing_requirements() == [] and not dependencies.torch_missing()
