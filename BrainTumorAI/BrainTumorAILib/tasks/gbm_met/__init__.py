"""gbm-met: glioblastoma or solitary metastasis, from the T1CE and T2 inside a drawn ROI (Shin 2021)."""

from ...catalog import TaskSpec
from . import words

SPEC = TaskSpec(
    name="gbm-met",
    title="Glioblastoma vs solitary metastasis (Shin 2021)",
    sequences=("t1ce", "t2"), needs_roi=True, outputs=("cam",), geometry_of="t2",
    pipeline=".pipeline:run", verdict=words.verdict, details=words.details,
    training_adapter=".training:GbmMetAdapter", evaluator=".evaluation:evaluate",
    networks={"slice_resnet50": "...networks.slice_resnet:build_slice_resnet50"},
    presets={
        # Shin 2021: 2D ResNet-50, ImageNet weights with every convolution and batch-norm frozen
        # (statistics included), FC head with dropout fine-tuned, Adam. `pretrained` must point to a
        # local torchvision ResNet-50 file (nothing is downloaded); without one `train` stops.
        # input_size is ImageNet's 224 (the paper gives no section size).
        # Not in the paper: training stops after 10 epochs without a better validation score.
        "shin2021": dict(batch_size=64, optimizer="adam", learning_rate=1e-3, epochs=100, freeze_backbone=True,
                         early_stopping_patience=10,
                         model={"dropout": 0.5, "norm": "batch", "input_size": 224}),
        # Not in Shin 2021: the same network with every layer trained (from ImageNet weights when
        # `pretrained` is given, else from scratch) - for users without the ImageNet file.
        "shin2021-finetune": dict(batch_size=64, optimizer="adam", learning_rate=1e-4, epochs=100,
                                  freeze_backbone=False, early_stopping_patience=10,
                                  model={"dropout": 0.5, "norm": "batch", "input_size": 224}),
    },
    demo_set=".training:DEMO_SET",
    # Shin 2021: clinical axial T2 with 5 mm slices
    resolution_mm={"t1ce": {"slice": 6.0, "in_plane": 1.5}, "t2": {"slice": 6.0, "in_plane": 1.5}},
    summary_scores=("predictive_index",),
)
