"""Moving data between the MRML scene and files through MRML storage nodes, in world (RAS) space.

Storage nodes are used outside the scene, so writing inputs or reading results adds no
storage node to it; results therefore carry no link to temporary files.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import slicer
import vtk

from .errors import BrainTumorAIError


def ijk_to_world(volume_node) -> vtk.vtkMatrix4x4:
    """The volume's IJK-to-world matrix, through its parent transform when it has a linear one."""
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    transform = volume_node.GetParentTransformNode()
    if transform is not None:
        if not transform.IsTransformToWorldLinear():
            raise BrainTumorAIError(f"volume '{volume_node.GetName()}' is under a non-linear transform: "
                                    "harden the transform first")
        to_world = vtk.vtkMatrix4x4()
        transform.GetMatrixTransformToWorld(to_world)
        vtk.vtkMatrix4x4.Multiply4x4(to_world, matrix, matrix)
    return matrix


def write_volume(volume_node, path: Path, compress: bool = False) -> Path:
    """Write a scalar volume with its world geometry (its own image data, never modified)."""
    if volume_node.GetImageData() is None:
        raise BrainTumorAIError(f"volume '{volume_node.GetName()}' has no image data")
    in_world = slicer.vtkMRMLScalarVolumeNode()  # never added to the scene
    in_world.SetAndObserveImageData(volume_node.GetImageData())
    in_world.SetIJKToRASMatrix(ijk_to_world(volume_node))
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(str(path))
    storage.SetUseCompression(compress)
    if not storage.WriteData(in_world):
        raise BrainTumorAIError(f"could not write volume '{volume_node.GetName()}' to {path}")
    return Path(path)


def read_volume(path: Path, name: str, class_name: str = "vtkMRMLScalarVolumeNode", scene=None):
    """A new volume node of `class_name` in the scene, read from `path` with its geometry."""
    scene = scene or slicer.mrmlScene
    node = scene.AddNewNodeByClass(class_name, name)
    read_volume_into(path, node)
    return node


def read_volume_into(path: Path, node) -> None:
    """Fill an existing (possibly scene-less) volume node from a file."""
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    storage.SetFileName(str(path))
    if not storage.ReadData(node):
        raise BrainTumorAIError(f"could not read {Path(path).name}")


def roi_world_box(roi_node):
    """The Markups ROI in world RAS as the core's BoxROI (centre, unit axes, edge lengths in mm)."""
    from BrainTumorAILib.errors import InputError
    from BrainTumorAILib.roi import BoxROI

    if roi_node.GetNumberOfDefinedControlPoints() == 0:
        raise BrainTumorAIError(f"ROI '{roi_node.GetName()}' is not placed yet: place it around the tumour")
    object_to_world = slicer.util.arrayFromVTKMatrix(roi_node.GetObjectToWorldMatrix())
    axes = object_to_world[:3, :3]
    scale = np.linalg.norm(axes, axis=0)  # a scaling parent transform stretches the box
    size = np.asarray(roi_node.GetSize(), dtype=float) * scale
    try:
        return BoxROI(object_to_world[:3, 3], axes / scale, size)
    except InputError as error:
        raise BrainTumorAIError(f"ROI '{roi_node.GetName()}': {error}") from None


def world_bounds(node) -> np.ndarray:
    """(rmin, rmax, amin, amax, smin, smax) of a displayable node in world RAS."""
    bounds = np.zeros(6)
    node.GetRASBounds(bounds)
    return bounds


def boxes_overlap(a, b) -> bool:
    """Whether two axis-aligned (rmin, rmax, amin, amax, smin, smax) boxes share any volume."""
    return all(a[2 * d] < b[2 * d + 1] and b[2 * d] < a[2 * d + 1] for d in range(3))


def _remove_nodes_added_since(scene, before: set) -> None:
    added = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    for node in reversed([n for n in added if n.GetID() not in before]):
        if scene.IsNodePresent(node):
            scene.RemoveNode(node)


@contextlib.contextmanager
def nodes_removed_on_error(scene=None):
    """Remove every node added inside the block when the block raises, so the scene is as before."""
    scene = scene or slicer.mrmlScene
    before = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    try:
        yield
    except BaseException:
        _remove_nodes_added_since(scene, before)
        raise


@contextlib.contextmanager
def temporary_nodes(scene=None):
    """Remove every node added inside the block when it ends (work that needs nodes in the scene)."""
    scene = scene or slicer.mrmlScene
    before = {scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())}
    try:
        yield
    finally:
        _remove_nodes_added_since(scene, before)
