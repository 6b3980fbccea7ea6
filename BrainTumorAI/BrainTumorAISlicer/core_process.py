"""Start the core command line (`python -m BrainTumorAILib ...`) with Slicer's Python in the background."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .background import BackgroundProcess
from .errors import BrainTumorAIError


def slicer_python() -> str:
    """PythonSlicer of the running Slicer application (beside Slicer's own executable), else this
    interpreter (slicer-core, tests). Inside Slicer, `sys.executable` is not a Python to start."""
    try:
        from slicer import app
    except ImportError:
        return sys.executable
    name = "PythonSlicer.exe" if os.name == "nt" else "PythonSlicer"
    candidates = [Path(app.slicerHome) / "bin" / name, shutil.which("PythonSlicer")]
    found = next((str(c) for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        raise BrainTumorAIError(f"{name} was not found in {Path(app.slicerHome) / 'bin'} nor on the PATH: "
                                "the background run needs Slicer's Python; reinstall Slicer")
    return found


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
