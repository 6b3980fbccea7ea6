"""mets-3d: brain metastases segmented in 3D by DeepMedic, five fold masks fused by vote (Jünger 2021)."""

from ...catalog import TaskSpec
from ..metastases import words

SPEC = TaskSpec(
    name="mets-3d",
    title="Brain metastases, 3D DeepMedic with a five-fold vote (Jünger 2021)",
    sequences=("t1ce",), needs_roi=False, outputs=("seg", "prob"), geometry_of="t1ce",
    pipeline=".pipeline:run", verdict=words.verdict, details=words.details,
    training_adapter=".training:Mets3dAdapter", evaluator="..metastases.evaluation:evaluate_runs",
    also_evaluates=("mets-agreed",),  # the lesions both metastasis tasks found (tasks.metastases.cross_method)
    networks={"deepmedic": "...networks.deepmedic:build_deepmedic"},
    presets={
        # Jünger 2021: DeepMedic on 25^3 patches, half centred on lesion, Dice loss, RMSprop,
        # lr halved after 3 epochs without improvement, 45^3 patches at inference. Not in the paper:
        # training stops after 10 epochs without a better score on the fold's validation patients.
        "junger2021": dict(batch_size=10, epochs=35, folds=5, patch_size=[25, 25, 25], early_stopping_patience=10,
                           sampler="balanced_positive_fraction", positive_fraction=0.5, augmentations=["flip"],
                           optimizer="rmsprop", lr_scheduler="plateau", lr_factor=0.5, lr_patience=3,
                           loss={"name": "dice"}, model={"inference_patch_size": [45, 45, 45]}),
    },
    demo_set=".training:DEMO_SET",
    # Jünger 2021: 3D T1CE resampled to 1 mm
    resolution_mm={"t1ce": {"slice": 2.0, "in_plane": 1.5}},
    segment_type="metastatic_neoplasm",
    lesion_masks=True,
)
