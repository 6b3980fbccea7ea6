"""The panel's scene state: its parameter node and the selectors it fills from volume names."""

import numpy as np
import slicer.util

from BrainTumorAISlicer.panel_state import (
    MODULE_NAME, guess_input_volumes, panel_task_offers, parameter_node, task_offers)
from BrainTumorAISlicer.result_nodes import RESULT_ATTRIBUTE
from mrml_scene import add_volume, scene  # noqa: F401 - scene is a fixture


def test_the_parameter_node_is_one_singleton_per_scene(scene):
    node = parameter_node()
    assert parameter_node() is node
    assert (node.GetSingletonTag(), node.GetModuleName()) == (MODULE_NAME, MODULE_NAME)
    assert scene.GetNodesByClass("vtkMRMLScriptedModuleNode").GetNumberOfItems() == 1


def test_selectors_are_guessed_from_brats_names_skipping_labelmaps_and_results(scene):
    result_map = add_volume("case t2 gbm-met activation map")
    result_map.SetAttribute(RESULT_ATTRIBUTE, "gbm-met")
    slicer.util.addVolumeFromArray(np.zeros((3, 4, 5), np.uint8), name="case-t1c labels",
                                   nodeClassName="vtkMRMLLabelMapVolumeNode")
    add_volume("MRHead")
    volumes = {name: add_volume(f"BraTS-GLI-00002-000-{name}") for name in ("t2f", "t1c", "t2w")}
    add_volume("BraTS-GLI-00003-000-t1c")  # a second case's T1CE: the first one wins
    assert guess_input_volumes() == {"flair": volumes["t2f"], "t1ce": volumes["t1c"], "t2": volumes["t2w"]}


def test_tasks_are_offered_only_with_a_model_set_and_demo_sets_say_so():
    offers = task_offers({"gbm-met": [{"name": "gbm-met-demo", "demo": True}, {"name": "mine", "demo": False}],
                          "mets-3d": []})
    assert offers["gbm-met"] == (True, "Model sets: gbm-met-demo (demo weights, not for clinical use), mine")
    assert offers["mets-3d"] == (False, "No model set is installed for this task")


def test_only_the_volumes_just_added_fill_selectors_so_a_cleared_one_stays_empty(scene):
    t1ce = add_volume("case t1ce")
    add_volume("case t2")
    flair = add_volume("case flair")
    assert guess_input_volumes(candidates=[flair]) == {"flair": flair}
    assert guess_input_volumes(candidates=[]) == {}  # e.g. a markup was added: nothing is refilled
    scene.RemoveNode(t1ce)
    assert guess_input_volumes(candidates=[t1ce]) == {}  # added and removed before the panel looked


def test_a_broken_registry_leaves_the_panel_usable_with_the_reason():
    def corrupt_registry():
        raise ValueError("registry.json: Expecting value: line 1 column 1")

    assert panel_task_offers(corrupt_registry) == ({}, "model sets could not be read: "
                                                       "registry.json: Expecting value: line 1 column 1")
    offers, problem = panel_task_offers(lambda: {"mets-3d": []})
    assert offers == {"mets-3d": (False, "No model set is installed for this task")} and problem == ""
