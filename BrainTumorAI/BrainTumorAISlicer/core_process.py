"""Start the core command line (`python -m BrainTumorAILib ...`) with Slicer's Python in the background."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .background import BackgroundProcess


def slicer_python() -> str:
    """PythonSlicer inside the Slicer application, else this interpreter (slicer-core, tests)."""
    try:
        from slicer import app  # noqa: F401 - only the Slicer application has it
    except ImportError:
        return sys.executable
    return shutil.which("PythonSlicer") or sys.executable


def core_environment() -> dict:
    """This process's environment, with the folder that holds BrainTumorAILib first on PYTHONPATH
    (Slicer adds module folders to its own sys.path only, not to the child's)."""
    import BrainTumorAILib

    library_parent = str(Path(BrainTumorAILib.__file__).resolve().parent.parent)
    environment = dict(os.environ)
    paths = [p for p in environment.get("PYTHONPATH", "").split(os.pathsep) if p]
    environment["PYTHONPATH"] = os.pathsep.join([library_parent] + paths)
    environment["PYTHONUNBUFFERED"] = "1"  # progress lines must arrive as they are printed
    return environment


def core_command(arguments: list, python: str | None = None) -> list[str]:
    return [python or slicer_python(), "-m", "BrainTumorAILib", *map(str, arguments)]


def start_core(arguments: list, cwd=None, python: str | None = None) -> BackgroundProcess:
    """`braintumorai <arguments>` as a background process (see BackgroundProcess)."""
    return BackgroundProcess(core_command(arguments, python), env=core_environment(), cwd=cwd)
