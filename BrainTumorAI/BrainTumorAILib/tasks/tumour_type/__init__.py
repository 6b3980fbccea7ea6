"""tumour-type: seven intracranial tumour classes from one T1CE volume (Chakrabarty 2021)."""

from ...catalog import TaskSpec
from . import words

SPEC = TaskSpec(
    name="tumour-type",
    title="Tumour type, seven classes (Chakrabarty 2021)",
    sequences=("t1ce",), needs_roi=False, outputs=("cam",), geometry_of="t1ce",
    pipeline=".pipeline:run", verdict=words.verdict, details=words.details,
    training_adapter=".training:TumourTypeAdapter",
    networks={"tumour_type_cnn": "...networks.tumour_type_cnn:build_tumour_type_cnn"},
    presets={
        # Chakrabarty 2021: 7-class 3D CNN with instance normalisation on one T1CE volume; the
        # paper gives no optimiser settings, so the TrainingConfig defaults apply.
        "chakrabarty2021": dict(loss={"name": "cross_entropy"}, model={"num_classes": 7, "norm": "instance"}),
    },
    demo_set=".training:DEMO_SET",
    # Chakrabarty 2021: T1CE up to 5 mm slices
    resolution_mm={"t1ce": {"slice": 6.0, "in_plane": 1.5}},
)
