"""tumour-type: seven intracranial tumour classes from one T1CE volume (Chakrabarty 2021)."""

from ...catalog import TaskSpec
from . import words

SPEC = TaskSpec(
    name="tumour-type",
    title="Tumour type, seven classes (Chakrabarty 2021)",
    sequences=("t1ce",), needs_roi=False, outputs=("cam",), geometry_of="t1ce",
    pipeline=".pipeline:run", verdict=words.verdict, details=words.details,
    training_adapter=".training:TumourTypeAdapter", evaluator=".evaluation:evaluate",
    networks={"tumour_type_cnn": "...networks.tumour_type_cnn:build_tumour_type_cnn"},
    presets={
        # Chakrabarty 2021, the authors' public configuration: 128^3 input, 16 base filters doubling
        # over 5 stages, Adam lr 5e-4, batch 5, 200 epochs, L2 1e-5, random flips on all three axes,
        # instance normalisation, 7-class cross-entropy; Grad-CAM read post hoc on the last stage.
        # Not in the configuration: training stops after 20 epochs without a better validation score.
        "chakrabarty2021": dict(batch_size=5, optimizer="adam", learning_rate=5e-4, weight_decay=1e-5, epochs=200,
                                early_stopping_patience=20,
                                augmentations=["flip"], loss={"name": "cross_entropy"},
                                model={"num_classes": 7, "norm": "instance", "widths": [16, 32, 64, 128, 256],
                                       "input_grid": {"size": 128, "spacing_mm": 1.5}, "flip_axes": [0, 1, 2],
                                       "pose_and_intensity_jitter": False, "cam_stage": -1}),
    },
    demo_set=".training:DEMO_SET",
    # Chakrabarty 2021: T1CE up to 5 mm slices
    resolution_mm={"t1ce": {"slice": 6.0, "in_plane": 1.5}},
)
