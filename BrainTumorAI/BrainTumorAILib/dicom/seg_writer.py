"""A segmentation task's lesion labels as one DICOM SEG (highdicom) on the source T1CE series.

One segment per lesion, numbered as the lesion table's id (ids are 1..n by decreasing volume, so
they are the consecutive segment numbers SEG requires). The label image is on the source series'
own grid (the contract; `grid.on_source_grid` puts its voxels back in the source's order if a
viewer listed them otherwise), so frame k of the SEG is source image k: nothing is interpolated.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from pydicom.uid import generate_uid

from . import codes
from .grid import on_source_grid
from .product import algorithm_sequence, equipment, series_description
from .series import DicomSeries


def write_segmentation(task: str, labels: sitk.Image, lesions: list[dict], model: dict | None,
                       source: DicomSeries, series_number: int) -> hd.seg.Segmentation | None:
    """The task's SEG, or None when it found no lesion (a SEG needs at least one segment)."""
    labels = on_source_grid(labels, source.image, f"{task}: the label image")
    ids = [int(row["id"]) for row in lesions]
    if not ids:
        return None
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"{task}: lesion ids {ids} are not 1..{len(ids)}")
    array = sitk.GetArrayFromImage(labels).astype(np.uint8)
    algorithm = algorithm_sequence(task, model)
    segments = [
        hd.seg.SegmentDescription(
            segment_number=lesion_id, segment_label=f"{task} lesion {lesion_id}",
            segmented_property_category=codes.SEGMENT_CATEGORY, segmented_property_type=codes.segment_type(task),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
            tracking_uid=generate_uid(), tracking_id=f"{task} lesion {lesion_id}", anatomic_regions=[codes.BRAIN])
        for lesion_id in ids]
    return hd.seg.Segmentation(
        source_images=source.datasets, pixel_array=array, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segments, series_instance_uid=generate_uid(), series_number=series_number,
        sop_instance_uid=generate_uid(), instance_number=1, **equipment(),
        content_label="LESIONS", content_description=f"{task} lesions"[:64],
        series_description=series_description(f"{task} lesions", [model]))
