"""Standard (SNOMED CT) terminology of the segments the module creates, in Slicer's entry format.

Slicer stores a segment's terminology as one string: context~category~type~type modifier~
anatomic context~anatomic region~region modifier, each code as scheme^value^meaning. Plain
strings need no terminology look-up files, so they work on slicer-core as in Slicer.
"""

from __future__ import annotations

from dataclasses import dataclass

_CATEGORY_CONTEXT = "Segmentation category and type - 3D Slicer General Anatomy list"
_ANATOMY_CONTEXT = "Anatomic codes - DICOM master list"
_NO_CODE = "^^"


@dataclass(frozen=True)
class Code:
    scheme: str
    value: str
    meaning: str

    def __str__(self) -> str:
        return f"{self.scheme}^{self.value}^{self.meaning}"


MORPHOLOGICALLY_ALTERED_STRUCTURE = Code("SCT", "49755003", "Morphologically Altered Structure")
NEOPLASM = Code("SCT", "108369006", "Neoplasm")
METASTATIC_NEOPLASM = Code("SCT", "14799000", "Neoplasm, metastatic")
BRAIN = Code("SCT", "12738006", "Brain")


def terminology_entry(segment_type: Code, category: Code = MORPHOLOGICALLY_ALTERED_STRUCTURE,
                      region: Code = BRAIN) -> str:
    """The terminology string Slicer's `vtkSegment.SetTerminology` takes."""
    return "~".join((_CATEGORY_CONTEXT, str(category), str(segment_type), _NO_CODE, _ANATOMY_CONTEXT,
                     str(region), _NO_CODE))

