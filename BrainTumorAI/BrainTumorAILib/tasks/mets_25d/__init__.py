"""mets-25d: brain metastases detected and outlined slice by slice with 2.5D context (Grøvik 2020)."""

from ...catalog import TaskSpec
from ..metastases import words

SPEC = TaskSpec(
    name="mets-25d",
    title="Brain metastases, 2.5D GoogLeNet FCN (Grøvik 2020)",
    sequences=("t1ce", "flair"), needs_roi=False, outputs=("seg", "prob"), geometry_of="t1ce",
    pipeline=".pipeline:run", verdict=words.verdict, details=words.details,
    training_adapter=".training:Mets25dAdapter", evaluator="..metastases.evaluation:evaluate_runs",
    networks={"googlenet_fcn": "...networks.googlenet_fcn:build_googlenet_fcn"},
    presets={
        # Grøvik 2020: 2.5D slices (centre +/- 3, 256 x 256) of four sequences (28 channels; those
        # the cases lack are left out and named), half of each batch with lesion, positives
        # weighted 10x in the sigmoid cross-entropy, converged in ~10 epochs; one network trained
        # on all development cases is deployed, no minimum lesion size. Not in the paper: training stops
        # after 5 epochs without a better score on a validation split of the training patients.
        "grovik2020": dict(batch_size=32, sampler="balanced_positive_fraction", positive_fraction=0.5,
                           optimizer="adam", learning_rate=1e-3, weight_decay=1e-5, epochs=10,
                           early_stopping_patience=5,
                           augmentations=["flip", "rot90"], loss={"name": "bce", "pos_weight": 10.0},
                           model={"context_slices": 3, "image_size": 256, "inputs": ["t1ce", "t1", "flair", "t2"],
                                  "ensemble": "single", "min_lesion_mm3": 0.0}),
    },
    demo_set=".training:DEMO_SET",
    # Grøvik 2020: 3D sequences of about 1 mm
    resolution_mm={"t1ce": {"slice": 2.0, "in_plane": 1.5}, "flair": {"slice": 6.0, "in_plane": 1.5}},
    segment_type="metastatic_neoplasm",
    lesion_masks=True,
)
