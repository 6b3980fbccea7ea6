"""Find the module's resources (icon, panel, models) in both layouts it is used in.

Installed by the extension, Resources/ sits beside BrainTumorAI.py; in a repository checkout
added as a module path, it sits at the repository root, one folder up (the repository's layout).
"""

from __future__ import annotations

from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent.parent  # the folder of BrainTumorAI.py


def resource_path(relative: str, module_dir: Path = MODULE_DIR) -> Path:
    """The path of `Resources/<relative>`; FileNotFoundError naming both places looked at."""
    candidates = [Path(module_dir) / "Resources" / relative, Path(module_dir).parent / "Resources" / relative]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"BrainTumorAI resource {relative} not found in {' or '.join(map(str, candidates))}")
