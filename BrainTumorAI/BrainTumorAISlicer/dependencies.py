"""First use inside Slicer: install the Python packages the core needs, after asking the user.

torch comes through the PyTorch extension (PyTorchUtils picks the build for the GPU driver);
the rest through slicer.util.pip_install with bounded versions. Slicer's own numpy and
SimpleITK are never replaced: pip runs with a constraints file that holds them at their
installed versions.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

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


def torch_missing() -> bool:
    return importlib.util.find_spec("torch") is None


def ensure_dependencies(confirm: Callable[[str], bool]) -> bool:
    """Install what is missing once `confirm(question)` agrees; False when the user declines."""
    missing, need_torch = missing_requirements(), torch_missing()
    if not missing and not need_torch:
        return True
    listing = (["torch (through the PyTorch extension)"] if need_torch else []) + missing
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
    try:
        from PyTorchUtils import PyTorchUtilsLogic
    except ImportError:
        raise BrainTumorAIError("BrainTumorAI needs the PyTorch extension: install 'PyTorch' from the "
                                "Extensions Manager, restart Slicer and try again") from None
    if PyTorchUtilsLogic().installTorch(askConfirmation=False, torchVersionRequirement=TORCH_REQUIREMENT) is None:
        raise BrainTumorAIError("PyTorch could not be installed (see the Python console for pip's output)")


def protected_constraints() -> str:
    """pip constraints that pin numpy and SimpleITK to the versions Slicer runs."""
    return "".join(f"{name}=={importlib.import_module(name).__version__}\n" for name in PROTECTED)


def pip_install_keeping_protected(requirements: list[str]) -> None:
    """slicer.util.pip_install under a constraints file (PIP_CONSTRAINT, which pip reads from the
    environment of the process Slicer starts)."""
    import slicer.util

    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text(protected_constraints(), encoding="utf-8")
        previous = os.environ.get("PIP_CONSTRAINT")
        os.environ["PIP_CONSTRAINT"] = str(constraints)
        try:
            slicer.util.pip_install(list(requirements))
        finally:
            if previous is None:
                del os.environ["PIP_CONSTRAINT"]
            else:
                os.environ["PIP_CONSTRAINT"] = previous
