"""The module finds Resources/ beside itself (installed) or one folder up (repository checkout)."""

import pytest

from BrainTumorAISlicer.resources import MODULE_DIR, resource_path


def test_the_checkout_layout_finds_the_panel_and_icon():
    assert resource_path("UI/BrainTumorAI.ui") == MODULE_DIR.parent / "Resources" / "UI" / "BrainTumorAI.ui"
    assert resource_path("Icons/BrainTumorAI.png").is_file()


def test_the_installed_layout_is_preferred_and_a_missing_resource_names_both_places(tmp_path):
    module_dir = tmp_path / "qt-scripted-modules"
    (module_dir / "Resources" / "UI").mkdir(parents=True)
    (module_dir / "Resources" / "UI" / "BrainTumorAI.ui").write_text("<ui/>")
    (tmp_path / "Resources" / "UI").mkdir(parents=True)
    (tmp_path / "Resources" / "UI" / "BrainTumorAI.ui").write_text("<ui/>")
    assert resource_path("UI/BrainTumorAI.ui", module_dir) == module_dir / "Resources" / "UI" / "BrainTumorAI.ui"
    with pytest.raises(FileNotFoundError, match="Icons/BrainTumorAI.png not found in .* or "):
        resource_path("Icons/BrainTumorAI.png", module_dir)
