"""First use inside Slicer: install the Python packages the core needs, after asking the user.

torch comes through the PyTorch extension (PyTorchUtils picks the build for the GPU driver);
the rest through slicer.util.pip_install with bounded versions. Slicer's own numpy and
SimpleITK (and an installed torch) are never replaced: pip runs with a constraints file that
holds them at their installed versions.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .errors import BrainTumorAIError

TORCH_REQUIREMENT = ">=2.1,<3"
# The core's dependencies (pyproject.toml) other than torch, numpy and SimpleITK, each bounded.
REQUIREMENTS = (
    "monai>=1.3,<2",
    "scipy>=1.10,<2",
    "scikit-image>=0.21,<1",
    "scikit-learn>=1.3,<2",
    "nilearn>=0.10,<1",
    "nibabel>=5,<6",
    "tqdm>=4.60,<5",
    "safetensors>=0.4,<1",
    "matplotlib>=3.7,<4",
    "jsonschema>=4.18,<5",
    "psutil>=5.9,<8",
    "deepbet>=1.0.2,<2",
    "pydicom>=3.0,<4",
    "highdicom>=0.28,<0.29",
    "dicomweb-client>=0.61,<0.62",
)
PROTECTED = ("numpy", "SimpleITK")  # Slicer's own builds


def distribution_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]


def missing_requirements() -> list[str]:
    """The requirements whose distribution is not installed."""
    missing = []
    for requirement in REQUIREMENTS:
        try:
            importlib.metadata.version(distribution_name(requirement))
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def torch_needed() -> bool:
    """True when torch is missing or outside TORCH_REQUIREMENT (an old torch is no better than none)."""
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return True
    return Version(version.split("+")[0]) not in SpecifierSet(TORCH_REQUIREMENT)


def ensure_dependencies(confirm: Callable[[str], bool], allow_install: bool = True) -> bool:
    """Install what is missing once `confirm(question)` agrees; False when the user declines.

    Without `allow_install` (the self-test under --testing, which must not reach the network)
    missing packages raise BrainTumorAIError naming them. Installer failures raise it too.
    """
    missing, need_torch = missing_requirements(), torch_needed()
    if not missing and not need_torch:
        return True
    listing = ([f"torch{TORCH_REQUIREMENT} (through the PyTorch extension)"] if need_torch else []) + missing
    if not allow_install:
        raise BrainTumorAIError("Python packages missing: " + ", ".join(listing))
    question = ("BrainTumorAI needs Python packages that are not installed yet:\n  " + "\n  ".join(listing)
                + "\n\nDownload and install them now? This can take several minutes.")
    if not confirm(question):
        return False
    if need_torch:
        install_torch()
    if missing:
        pip_install_keeping_protected(missing)
    return True


def install_torch() -> None:
    """torch through PyTorchUtils, which picks the build for the GPU driver (it raises on failure)."""
    try:
        from PyTorchUtils import PyTorchUtilsLogic
    except ImportError:
        raise BrainTumorAIError("BrainTumorAI needs the PyTorch extension: install 'PyTorch' from the "
                                "Extensions Manager, restart Slicer and try again") from None
    try:
        PyTorchUtilsLogic().installTorch(askConfirmation=False, torchVersionRequirement=TORCH_REQUIREMENT)
    except Exception as error:  # pip's CalledProcessError, a network or a driver problem: all end the same way
        raise BrainTumorAIError(f"PyTorch could not be installed ({type(error).__name__}: {error}); "
                                "see the Python console for pip's output") from error


def protected_constraints() -> str:
    """pip constraints that pin numpy, SimpleITK and torch (when installed) to the versions Slicer
    runs, so resolving the other packages never replaces Slicer's builds or the CUDA torch."""
    pins = [f"{name}=={importlib.import_module(name).__version__}" for name in PROTECTED]
    try:
        pins.append(f"torch=={importlib.metadata.version('torch')}")
    except importlib.metadata.PackageNotFoundError:
        pass
    return "".join(pin + "\n" for pin in pins)


def pip_install_keeping_protected(requirements: list[str]) -> None:
    """slicer.util.pip_install under a constraints file given as pip's own `-c` argument (one
    argument, so a temporary folder with a space in its name works, unlike PIP_CONSTRAINT)."""
    import slicer.util

    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text(protected_constraints(), encoding="utf-8")
        try:
            slicer.util.pip_install(["-c", str(constraints), *requirements])
        except subprocess.CalledProcessError as error:
            raise BrainTumorAIError(f"installing {', '.join(requirements)} failed (pip exit status "
                                    f"{error.returncode}); see the Python console for pip's output") from error
