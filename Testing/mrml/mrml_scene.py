"""A real MRML scene from the slicer-core wheel, with Slicer's module logics bound to it.

The only stand-in is `SlicerModulesStandIn` for the application's `slicer.modules`, whose
entries hand out the real logic objects (slicer-core has no application to own them).
Test files import the `scene` fixture from here (a uniquely named module, not a second
conftest.py, so that `from conftest import ...` in other suites keeps meaning Testing/conftest.py).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import slicer
import slicer.util
import vtk

from scipy.spatial.transform import Rotation

vtk.vtkObject.GlobalWarningDisplayOff()

LOGIC_CLASSES = {
    "volumes": slicer.vtkSlicerVolumesLogic,
    "segmentations": slicer.vtkSlicerSegmentationsModuleLogic,
    "markups": slicer.vtkSlicerMarkupsLogic,
    "tables": slicer.vtkSlicerTablesLogic,
    "plots": slicer.vtkSlicerPlotsLogic,
    "colors": slicer.vtkSlicerColorLogic,
}
SLICE_VIEWS = ("Red", "Yellow", "Green")


class SlicerModulesStandIn:
    """Stand-in for the application's `slicer.modules`: `slicer.modules.<name>.logic()` returns
    the real module logic bound to the test scene."""

    class _Module:
        def __init__(self, logic):
            self._logic = logic

        def logic(self):
            return self._logic

    def __init__(self, logics: dict):
        for name, logic in logics.items():
            setattr(self, name, self._Module(logic))


@contextlib.contextmanager
def mrml_scene_context():
    """A scene with module logics and three slice views, installed as slicer.mrmlScene."""
    scene = slicer.vtkMRMLScene()
    app = slicer.vtkSlicerApplicationLogic()
    app.SetMRMLScene(scene)
    logics = {}
    for name, cls in LOGIC_CLASSES.items():
        logic = cls()
        logic.SetMRMLApplicationLogic(app)
        logic.SetMRMLScene(scene)
        app.SetModuleLogic(name, logic)
        logics[name] = logic  # kept referenced: collected logics take the scene's defaults with them
    slice_logics = vtk.vtkCollection()
    for view in SLICE_VIEWS:
        slice_logic = slicer.vtkMRMLSliceLogic()
        slice_logic.SetMRMLApplicationLogic(app)
        slice_logic.SetMRMLScene(scene)
        slice_logic.AddSliceNode(view)
        slice_logics.AddItem(slice_logic)
    app.SetSliceLogics(slice_logics)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(slicer, "mrmlScene", scene, raising=False)
        patch.setattr(slicer, "modules", SlicerModulesStandIn(logics), raising=False)
        try:
            yield scene
        finally:
            scene.Clear(True)
            for item in range(slice_logics.GetNumberOfItems()):
                slice_logics.GetItemAsObject(item).SetMRMLScene(None)
            for logic in logics.values():
                logic.SetMRMLScene(None)
            app.SetMRMLScene(None)


@pytest.fixture
def scene():
    with mrml_scene_context() as mrml_scene:
        yield mrml_scene


def ijk_to_ras(spacing=(0.9, 1.1, 3.0), origin=(12.0, -30.0, 5.0), angles=(8, -5, 12)) -> np.ndarray:
    """An oblique, anisotropic IJK-to-RAS matrix."""
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_euler("xyz", angles, degrees=True).as_matrix() @ np.diag(spacing)
    matrix[:3, 3] = origin
    return matrix


def add_volume(name: str, shape=(12, 24, 20), seed=0, matrix=None):
    """A random float volume (array shape k, j, i) with an oblique anisotropic geometry."""
    array = np.random.default_rng(seed).normal(100, 20, size=shape).astype(np.float32)
    return slicer.util.addVolumeFromArray(array, ijkToRAS=ijk_to_ras() if matrix is None else matrix, name=name)


def add_roi(name: str, center, size, angle_deg: float = 0.0):
    """A placed Markups ROI, rotated about S by `angle_deg`."""
    roi = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsROINode", name)
    roi.SetCenter(*center)
    roi.SetSize(*size)
    if angle_deg:
        rotation = vtk.vtkTransform()
        rotation.Translate(*center)
        rotation.RotateZ(angle_deg)
        roi.SetAndObserveObjectToNodeMatrix(rotation.GetMatrix())
    return roi
