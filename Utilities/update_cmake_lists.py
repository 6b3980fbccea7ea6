"""Rewrite the file lists of BrainTumorAI/CMakeLists.txt from the files that exist.

Slicer installs only what the module's CMakeLists names, so every new script or bundled model
file must be listed; Testing/mrml/test_mrml_static.py fails when the lists drift.
    python Utilities/update_cmake_lists.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE_DIR = ROOT / "BrainTumorAI"
CMAKE = MODULE_DIR / "CMakeLists.txt"
INSTALLED_RESOURCE_DIRS = ("Icons", "UI", "models")


def scripts() -> list[str]:
    found = sorted(p.relative_to(MODULE_DIR).as_posix()
                   for package in ("BrainTumorAILib", "BrainTumorAISlicer")
                   for p in (MODULE_DIR / package).rglob("*.py") if "__pycache__" not in p.parts)
    return ["${MODULE_NAME}.py", *found]


def resources() -> list[str]:
    folder = ROOT / "Resources"
    return sorted(p.relative_to(folder).as_posix() for name in INSTALLED_RESOURCE_DIRS
                  for p in (folder / name).rglob("*") if p.is_file())


def replace_list(text: str, variable: str, items: list[str]) -> str:
    body = "\n".join(f"  {item}" for item in items)
    return re.sub(rf"set\({variable}\n.*?\n(\s*)\)", lambda m: f"set({variable}\n{body}\n{m.group(1)})", text,
                  count=1, flags=re.S)


def main() -> None:
    text = CMAKE.read_text(encoding="utf-8")
    text = replace_list(text, "MODULE_PYTHON_SCRIPTS", scripts())
    text = replace_list(text, "MODULE_RESOURCES", resources())
    CMAKE.write_text(text, encoding="utf-8")
    print(f"updated {CMAKE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
