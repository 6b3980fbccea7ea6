"""Checks of a finished run against the CLI's files and the inputs (the self-test and the
end-to-end test share them): every image of the contract became a node with the file's
geometry, that geometry is the one of the input the contract names, and the inputs are unchanged."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import slicer
import slicer.util
import vtk

from BrainTumorAILib.catalog import task_specs
from BrainTumorAILib.image import ijk_to_ras_matrix

from .scene_io import ijk_to_world

GEOMETRY_TOLERANCE = 1e-4  # mm; NRRD/NIfTI headers round directions and spacing


def snapshot_inputs(inputs: dict) -> dict:
    """Copies of each input's voxels and world geometry, to compare after a run."""
    return {name: (slicer.util.arrayFromVolume(node).copy(), _volume_geometry(node)) for name, node in inputs.items()}


def result_problems(results, inputs: dict, snapshot: dict) -> list[str]:
    """What is wrong with a run's nodes (empty when all is well); `results` is a RunResults."""
    problems = []
    for task in results.result["tasks"]:
        spec = task_specs().get(task)
        for kind in spec.outputs if spec else ():
            problems += _image_problems(results, inputs, task, kind, spec.geometry_of)
        if isinstance(results.result["tasks"][task].get("probabilities"), dict) and task not in results.nodes.charts:
            problems.append(f"{task}: no probability chart")
    if results.nodes.table is None or results.nodes.table.GetNumberOfRows() == 0:
        problems.append("the results table is missing or empty")
    for name, node in inputs.items():
        array, geometry = snapshot[name]
        if not np.array_equal(slicer.util.arrayFromVolume(node), array, equal_nan=True):
            problems.append(f"input {name} voxels changed")
        if not _same(geometry, _volume_geometry(node)):
            problems.append(f"input {name} geometry changed")
    return problems


def _image_problems(results, inputs, task: str, kind: str, geometry_of: str) -> list[str]:
    path = results.output_dir / f"{task}_{kind}.nii.gz"
    node = results.nodes.of_kind(kind).get(task)
    if not path.is_file() or node is None:
        return [f"{task}: {path.name} {'has no node' if path.is_file() else 'was not written'}"]
    image = sitk.ReadImage(str(path))
    file_geometry = _file_geometry(image)
    node_geometry = _segmentation_geometry(node) if kind == "seg" else _volume_geometry(node)
    problems = []
    if not _same(node_geometry, file_geometry):
        problems.append(f"{task} {kind}: node geometry differs from {path.name}")
    if geometry_of in inputs and not _same(file_geometry, _volume_geometry(inputs[geometry_of])):
        problems.append(f"{task} {kind}: {path.name} does not have the {geometry_of} input's geometry")
    if kind != "seg" and not np.allclose(slicer.util.arrayFromVolume(node), sitk.GetArrayFromImage(image)):
        problems.append(f"{task} {kind}: node voxels differ from {path.name}")
    return problems


def _volume_geometry(node) -> tuple:
    return slicer.util.arrayFromVTKMatrix(ijk_to_world(node)), tuple(node.GetImageData().GetDimensions())


def _segmentation_geometry(node) -> tuple:
    """The segmentation's reference grid (the grid its labels were imported on)."""
    geometry = slicer.vtkOrientedImageData()
    serialized = node.GetSegmentation().GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName())
    slicer.vtkSegmentationConverter.DeserializeImageGeometry(serialized, geometry, False)
    matrix = vtk.vtkMatrix4x4()
    geometry.GetImageToWorldMatrix(matrix)
    extent = geometry.GetExtent()
    return slicer.util.arrayFromVTKMatrix(matrix), tuple(extent[2 * d + 1] - extent[2 * d] + 1 for d in range(3))


def _file_geometry(image: sitk.Image) -> tuple:
    return ijk_to_ras_matrix(image), tuple(image.GetSize())


def _same(a: tuple, b: tuple) -> bool:
    return a[1] == b[1] and np.allclose(a[0], b[0], atol=GEOMETRY_TOLERANCE)
