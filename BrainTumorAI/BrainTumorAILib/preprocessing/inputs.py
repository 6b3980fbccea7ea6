"""Checks on the set of input sequences before any work: names, reference, content, overlap."""

from __future__ import annotations

import SimpleITK as sitk

from ..errors import InputError
from ..image import validate_image
from .grid import overlap_fraction

# Sequences of one session share the scanner's frame: their fields of view overlap almost
# entirely even when the patient moved. Less than this shared fraction of the smaller field of
# view means the files do not belong together (another patient, a wrong or corrupt header).
MIN_OVERLAP = 0.05


def check_inputs(images: dict[str, sitk.Image], reference: str, sequences: tuple[str, ...]) -> None:
    """Raise InputError naming the problem; return silently when the inputs can be preprocessed."""
    unknown = sorted(set(images) - set(sequences))
    if unknown:
        raise InputError(f"unknown sequence name(s) {', '.join(unknown)} (expected {', '.join(sequences)})")
    if images.get(reference) is None:
        raise InputError(f"the reference sequence '{reference}' is missing")
    for name, image in images.items():
        if image is None:
            raise InputError(f"sequence '{name}' is given without an image")
        validate_image(image, name)
        statistics = sitk.StatisticsImageFilter()
        statistics.Execute(image)
        if statistics.GetMaximum() <= statistics.GetMinimum():
            raise InputError(f"{name}: image is constant ({statistics.GetMinimum():g} everywhere)")
    for name, image in images.items():
        if name == reference:
            continue
        shared = overlap_fraction(images[reference], image)
        if shared < MIN_OVERLAP:
            raise InputError(
                f"{name} and {reference} do not overlap in physical space (shared {100 * shared:.1f}% of the "
                f"smaller field of view): different patients, sessions or a wrong header?")

