"""What the panel keeps in the scene and fills in by itself (MRML only, so it is tested on slicer-core)."""

from __future__ import annotations

import slicer

from .result_nodes import RESULT_ATTRIBUTE
from .sequence_names import sequence_of_name

MODULE_NAME = "BrainTumorAI"


def parameter_node(scene=None):
    """The module's singleton parameter node in the scene (created on first use)."""
    scene = scene or slicer.mrmlScene
    node = scene.GetSingletonNode(MODULE_NAME, "vtkMRMLScriptedModuleNode")
    if node is None:
        node = slicer.vtkMRMLScriptedModuleNode()
        node.SetSingletonTag(MODULE_NAME)
        node.SetName(MODULE_NAME)
        node.SetModuleName(MODULE_NAME)
        node = scene.AddNode(node)
    return node


def guess_input_volumes(scene=None, candidates=None) -> dict:
    """Sequence -> the first MRI volume whose name announces it (labelmaps and this module's own
    result maps are skipped). `candidates`: only these nodes (the ones just added), so a selector
    the user cleared is not filled again from volumes already in the scene."""
    scene = scene or slicer.mrmlScene
    if candidates is None:
        volumes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
        candidates = [volumes.GetItemAsObject(index) for index in range(volumes.GetNumberOfItems())]
    guessed = {}
    for node in candidates:
        if (node is None or not node.IsA("vtkMRMLScalarVolumeNode") or node.IsA("vtkMRMLLabelMapVolumeNode")
                or node.GetAttribute(RESULT_ATTRIBUTE) is not None or scene.GetNodeByID(node.GetID()) is None):
            continue
        sequence = sequence_of_name(node.GetName())
        if sequence is not None and sequence not in guessed:
            guessed[sequence] = node
    return guessed


def task_offers(model_sets: dict) -> dict:
    """Task -> (selectable, tooltip) from `BrainTumorAILogic.installed_model_sets()`: a task is
    offered when a model set is installed for it; demo sets say so in the tooltip."""
    offers = {}
    for task, sets in model_sets.items():
        names = [s["name"] + (" (demo weights, not for clinical use)" if s["demo"] else "") for s in sets]
        offers[task] = (True, "Model sets: " + ", ".join(names)) if names else \
            (False, "No model set is installed for this task")
    return offers


def panel_task_offers(installed_model_sets) -> tuple[dict, str]:
    """(task offers, problem): what `task_offers` gives for `installed_model_sets()`, or no offers
    and one line naming the problem when reading the registry fails in any way (a corrupt user
    registry, a broken task package), so the panel still opens and says why tasks are missing."""
    try:
        return task_offers(installed_model_sets()), ""
    except Exception as error:  # the panel must open whatever the registry holds
        return {}, f"model sets could not be read: {error}"
