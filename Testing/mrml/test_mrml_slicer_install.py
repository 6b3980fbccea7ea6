"""What a real Slicer install meets and slicer-core cannot show: Slicer's Python for the child
process, no console window on Windows, no torch in the GUI process, the ExtensionsIndex entry."""

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import jsonschema
import pytest
import slicer

from BrainTumorAISlicer import background, core_process
from BrainTumorAISlicer.errors import BrainTumorAIError

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "Resources" / "ExtensionsIndex" / "BrainTumorAI.json"
ENTRY_SCHEMA = Path(__file__).with_name("extension_catalog_entry.schema.json")


def _fake_application(monkeypatch, home: Path):
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(slicerHome=str(home)), raising=False)
    monkeypatch.setenv("PATH", str(home / "nowhere"))


def test_the_child_process_runs_slicers_own_python(monkeypatch, tmp_path):
    (tmp_path / "bin").mkdir()
    python = tmp_path / "bin" / ("PythonSlicer.exe" if core_process.os.name == "nt" else "PythonSlicer")
    python.write_text("")
    _fake_application(monkeypatch, tmp_path)
    assert core_process.slicer_python() == str(python)


def test_a_missing_python_slicer_is_one_message_not_an_empty_executable(monkeypatch, tmp_path):
    _fake_application(monkeypatch, tmp_path)
    with pytest.raises(BrainTumorAIError, match="PythonSlicer was not found in .*reinstall Slicer"):
        core_process.slicer_python()


def test_windows_children_get_no_console_window_and_their_own_process_group():
    flags = background.process_options("nt")["creationflags"]
    assert flags & background.CREATE_NO_WINDOW and flags & background.CREATE_NEW_PROCESS_GROUP
    assert background.process_options("posix") == {"start_new_session": True}


def test_what_the_panel_imports_and_reads_leaves_torch_unimported():
    code = ("import sys\n"
            "import BrainTumorAISlicer, BrainTumorAISlicer.dependencies, BrainTumorAISlicer.result_check\n"
            "from BrainTumorAILib.catalog import task_specs\n"
            "from BrainTumorAISlicer.panel_state import panel_task_offers\n"
            "offers, problem = panel_task_offers(BrainTumorAISlicer.BrainTumorAILogic.installed_model_sets)\n"
            "assert not problem and all(offered for offered, _ in offers.values()), (offers, problem)\n"
            "for spec in task_specs().values():\n"
            "    spec.verdict({})\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_extensions_index_entry_follows_the_catalog_schema_and_the_cmake_metadata():
    entry = json.loads(ENTRY.read_text(encoding="utf-8"))
    jsonschema.validate(entry, json.loads(ENTRY_SCHEMA.read_text(encoding="utf-8")))
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    cmake = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    setting = lambda name: re.search(rf'set\({name} "([^"]*)"\)', cmake).group(1)  # noqa: E731
    assert entry["category"] == setting("EXTENSION_CATEGORY")
    assert entry["build_dependencies"] == setting("EXTENSION_DEPENDS").split()
    assert entry["scm_url"].removesuffix(".git") == setting("EXTENSION_HOMEPAGE")
