"""Static checks of the Slicer module: panel names, CMake file lists, layering, packaging metadata."""

import ast
import re
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from BrainTumorAISlicer.dependencies import PROTECTED, REQUIREMENTS, distribution_name

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = ROOT / "BrainTumorAI"
MODULE_FILE = MODULE_DIR / "BrainTumorAI.py"
UI_FILE = ROOT / "Resources" / "UI" / "BrainTumorAI.ui"
INSTALLED_RESOURCE_DIRS = ("Icons", "UI", "models")  # Screenshots are for the catalogue only


def _ui_widgets() -> dict:
    return {w.get("name"): w for w in ElementTree.parse(UI_FILE).getroot().iter("widget")}


def _cmake_list(variable: str) -> list[str]:
    text = (MODULE_DIR / "CMakeLists.txt").read_text(encoding="utf-8")
    body = re.search(rf"set\({variable}\n(.*?)\n\s*\)", text, re.S)
    assert body, f"set({variable} ...) not found in BrainTumorAI/CMakeLists.txt"
    return [line.strip().replace("${MODULE_NAME}", "BrainTumorAI") for line in body.group(1).splitlines()
            if line.strip()]


def _drift(listed: list[str], present: list[str]) -> str:
    missing, extra = sorted(set(present) - set(listed)), sorted(set(listed) - set(present))
    return f"add to the list: {missing}; remove (no such file): {extra}"


def test_every_widget_the_module_uses_exists_in_the_panel():
    used = set(re.findall(r"self\.ui\.(\w+)", MODULE_FILE.read_text(encoding="utf-8")))
    assert used, "the Widget uses no ui names?"
    assert used - set(_ui_widgets()) == set()


def test_parameter_bindings_in_the_panel_name_fields_of_the_parameter_node():
    tree = ast.parse(MODULE_FILE.read_text(encoding="utf-8"))
    wrapper = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "BrainTumorAIParameterNode")
    fields = {n.target.id for n in wrapper.body if isinstance(n, ast.AnnAssign)}
    bound = {w.findtext("property[@name='SlicerParameterName']/string") for w in _ui_widgets().values()} - {None}
    assert bound == {"t1ce", "t2", "flair", "t1", "roi"} and bound <= fields


def test_the_panel_declares_every_custom_widget_it_uses():
    root = ElementTree.parse(UI_FILE).getroot()
    declared = {c.findtext("class") for c in root.iter("customwidget")}
    used = {w.get("class") for w in root.iter("widget")}
    assert {c for c in used if not c.startswith("Q")} <= declared


def test_cmake_lists_every_script_and_nothing_else():
    present = ["BrainTumorAI.py"] + [p.relative_to(MODULE_DIR).as_posix()
                                     for package in ("BrainTumorAISlicer", "BrainTumorAILib")
                                     for p in (MODULE_DIR / package).rglob("*.py") if "__pycache__" not in p.parts]
    listed = _cmake_list("MODULE_PYTHON_SCRIPTS")
    assert sorted(listed) == sorted(present), _drift(listed, present)


def test_cmake_lists_every_installed_resource_and_nothing_else():
    resources = ROOT / "Resources"
    present = [p.relative_to(resources).as_posix() for folder in INSTALLED_RESOURCE_DIRS
               for p in (resources / folder).rglob("*") if p.is_file()]
    listed = _cmake_list("MODULE_RESOURCES")
    assert sorted(listed) == sorted(present), _drift(listed, present)


def test_no_helper_lies_beside_the_module_file():
    assert [p.name for p in MODULE_DIR.glob("*.py")] == ["BrainTumorAI.py"]


def _imported_roots(package: Path) -> dict:
    roots = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                roots.setdefault(name.split(".")[0], set()).add(path.relative_to(package.parent).as_posix())
    return roots


@pytest.mark.parametrize("package, forbidden", [
    ("BrainTumorAISlicer", {"qt", "ctk", "torch"}),  # runs on slicer-core; imports before torch is installed
    ("BrainTumorAILib", {"slicer", "qt", "ctk", "vtk", "vtkmodules"}),
])
def test_layers_import_only_what_they_may(package, forbidden):
    roots = _imported_roots(MODULE_DIR / package)
    assert {name: sorted(files) for name, files in roots.items() if name in forbidden} == {}


def test_pip_requirements_match_the_core_dependencies_with_upper_bounds():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    core = {distribution_name(d).lower(): d for d in dependencies}
    ours = {distribution_name(r).lower(): r for r in REQUIREMENTS}
    assert set(ours) == set(core) - {"torch", *(p.lower() for p in PROTECTED)}
    for name, requirement in ours.items():
        lower = re.search(r">=([\w.]+)", core[name]).group(1)
        assert f">={lower}" in requirement and "<" in requirement, (requirement, core[name])


def test_extension_metadata_is_complete_and_its_urls_name_files_of_this_repository():
    text = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    values = dict(re.findall(r'set\((EXTENSION_\w+) "([^"]*)"\)', text))
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS"):
        assert values.get(f"EXTENSION_{key}"), f"EXTENSION_{key} is empty"
    assert "PyTorch" in values["EXTENSION_DEPENDS"].split()
    for url in (values["EXTENSION_ICONURL"], *values["EXTENSION_SCREENSHOTURLS"].split()):
        relative = re.sub(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/", "", url)
        assert (ROOT / relative).is_file(), f"{url} names {relative}, which is not in the repository"
