"""Coded concepts of the DICOM objects: standard SNOMED CT / DCM codes where DICOM PS3.16 has one,
and this product's private coding scheme (designator "99BTAI", as PS3.16 8.2 allows) for what
no standard code names (supra-/infratentorial, a model's class probability, the verdict's cut-off).

Which segment type a segmentation task's lesions have comes from its TaskSpec (`segment_type`).
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from ..catalog import task_specs

PRIVATE_SCHEME = "99BTAI"


def private_scheme_identification():
    """The SOP Common module's Coding Scheme Identification Sequence entry that declares the
    private scheme, so that a reader can tell who defines its codes."""
    from pydicom import Dataset

    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "BrainTumorAI private codes"
    item.CodingSchemeResponsibleOrganization = "BrainTumorAI"
    return [item]


def private(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, PRIVATE_SCHEME, meaning)


# Segments: category "Morphologically altered structure", in the brain (the Slicer panel's
# segments carry the same terminology, BrainTumorAISlicer/terminology.py).
SEGMENT_CATEGORY = codes.SCT.MorphologicallyAbnormalStructure  # SCT 49755003
NEOPLASM = codes.SCT.Neoplasm
METASTATIC_NEOPLASM = CodedConcept("14799000", "SCT", "Neoplasm, metastatic")
BRAIN = codes.SCT.Brain

SEGMENT_TYPES = {"neoplasm": NEOPLASM, "metastatic_neoplasm": METASTATIC_NEOPLASM}  # TaskSpec.segment_type


def segment_type(task: str) -> CodedConcept:
    """The property type of a task's lesion segments, from its spec (Neoplasm for a task not known here)."""
    spec = task_specs().get(task)
    return SEGMENT_TYPES[spec.segment_type] if spec is not None else NEOPLASM


# Measurements
VOLUME = codes.SCT.Volume
LONG_AXIS = codes.SCT.LongAxis            # the longest (Feret) diameter, as RANO-BM measures
PROBABILITY = codes.DCM.Probability        # DCM 122157
LESION_COUNT = private("NLESIONS", "Number of lesions found")
MAX_PROBABILITY = private("MAXPROB", "Maximum lesion probability")
FOLD_AGREEMENT = private("FOLDAGREE", "Fraction of fold models detecting the lesion")
PREDICTIVE_INDEX = private("PREDIDX", "Predictive index (fraction of slices voting glioblastoma)")
CUTOFF = private("CUTOFF", "Predictive index cut-off")
RESEARCH_USE = private("RESEARCH", "Research use only - not a medical device")
DEMO_WEIGHTS = private("DEMOWEIGHTS", "Demo weights (synthetic phantoms), not for clinical use")
NOTICE = private("NOTICE", "Notice")

# Lesion location (lesions.tasks: supra- or infratentorial, from registration to MNI152)
LOCATIONS = {
    "supratentorial": private("SUPRATENT", "Supratentorial brain"),
    "infratentorial": private("INFRATENT", "Infratentorial brain"),
}

# Verdicts and classes
GLIOBLASTOMA = codes.SCT.Glioblastoma
VERDICTS = {"GBM": GLIOBLASTOMA, "metastasis": METASTATIC_NEOPLASM}
TUMOUR_CLASSES = {
    "hgg": private("HGG", "High-grade glioma"),
    "lgg": private("LGG", "Low-grade glioma"),
    "metastasis": METASTATIC_NEOPLASM,
    "meningioma": private("MENINGIOMA", "Meningioma"),
    "pituitary": private("PITUITARY", "Pituitary tumour"),
    "schwannoma": private("SCHWANNOMA", "Vestibular schwannoma"),
    "healthy": codes.DCM.NoAbnormality,
}

# Units (UCUM)
CUBIC_MILLIMETRE = codes.UCUM.CubicMillimeter
MILLIMETRE = codes.UCUM.Millimeter
NO_UNITS = codes.UCUM.NoUnits

# What each activation map is, for the Parametric Map's real-world value mapping
ACTIVATION_MAP = private("CAM", "Class activation map (0-1)")

PROCEDURE = codes.LN.BrainMRI               # LOINC 24590-2 "MRI Brain"
ALGORITHM_FAMILY = codes.DCM.ArtificialIntelligence


def class_probability(name: str) -> CodedConcept:
    """The concept "probability of <class>" for a tumour-type class."""
    return private(f"P-{name.upper()}", f"Probability of {TUMOUR_CLASSES[name].meaning}"[:64])
