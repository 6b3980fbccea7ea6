"""A class-activation map as a DICOM Parametric Map (highdicom) on the series whose grid it has.

A Parametric Map keeps the values (0-1, a real-world value mapping says so) and the geometry, and
viewers that show Parametric Maps overlay it on the referenced series; a secondary-capture picture
would keep neither. Values are stored as 16-bit integers with slope 1/65535 (half the size of
float pixels; the 0-1 maps lose nothing a viewer shows).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from pydicom.uid import generate_uid

from . import codes
from .grid import on_source_grid
from .product import equipment, series_description
from .series import DicomSeries

STORED_MAX = 65535


def write_parametric_map(task: str, cam: sitk.Image, model: dict | None, source: DicomSeries,
                         series_number: int) -> hd.pm.ParametricMap:
    cam = on_source_grid(cam, source.image, f"{task}: the activation map")
    values = np.clip(sitk.GetArrayFromImage(cam), 0.0, 1.0)
    stored = np.round(values * STORED_MAX).astype(np.uint16)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="CAM", lut_explanation=f"{task} class activation map", unit=codes.NO_UNITS,
        value_range=(0, STORED_MAX), slope=1.0 / STORED_MAX, intercept=0.0,
        quantity_definition=codes.ACTIVATION_MAP)
    parametric_map = hd.pm.ParametricMap(
        source_images=source.datasets, pixel_array=stored, series_instance_uid=generate_uid(),
        series_number=series_number, sop_instance_uid=generate_uid(), instance_number=1, **equipment(),
        contains_recognizable_visual_features=False, real_world_value_mappings=[mapping],
        voi_lut_transformations=[hd.VOILUTTransformation(window_center=STORED_MAX / 2, window_width=STORED_MAX)],
        content_label="CAM",
        content_description=f"{task} class activation map"[:64],
        series_description=series_description(f"{task} activation map", [model]))
    # General Series wants Laterality unless the body part is known to be unpaired (the head)
    if "BodyPartExamined" in source.first:
        parametric_map.BodyPartExamined = source.first.BodyPartExamined
    else:
        parametric_map.Laterality = ""
    return parametric_map
