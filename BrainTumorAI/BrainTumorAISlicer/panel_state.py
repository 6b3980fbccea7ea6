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


def guess_input_volumes(scene=None) -> dict:
    """Sequence -> the first MRI volume whose name announces it (labelmaps and this module's own
    result maps are skipped), for selectors the user has not filled."""
    scene = scene or slicer.mrmlScene
    volumes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    guessed = {}
    for index in range(volumes.GetNumberOfItems()):
        node = volumes.GetItemAsObject(index)
        if node.IsA("vtkMRMLLabelMapVolumeNode") or node.GetAttribute(RESULT_ATTRIBUTE) is not None:
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
