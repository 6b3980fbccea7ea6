"""What the papers' full-size networks cost on this machine, with random weights.

The bundled demo sets are reduced-width networks; a user who trains the published ones
(`widths`/`width` at the paper values) gets these times instead. Each network runs its unit of
work (a batch of slices, one DeepMedic block, one whole volume) once to warm up and once timed,
in inference mode, as the tasks run it; the time per case follows from how many units a case
needs on a 1 mm MNI152 brain and the folds of the installed model set (`run`'s ensemble).
"""

from __future__ import annotations

import time

import numpy as np
import torch

GBM_MET_ROI_SLICES = 40  # a 4 cm ROI around a mass and its oedema, 1 mm slices (Shin 2021: every ROI slice)
GBM_MET_BATCH = 8
METS_25D_BATCH = 4
METS_25D_CHANNELS = 28  # 7 slices x 4 sequences (Grøvik 2020)
TUMOUR_TYPE_SIZE = 128
PAPER_NETWORKS = ("gbm-met", "mets-25d", "mets-3d", "tumour-type")


class _Clock:
    """Wall and process CPU seconds of the timed calls (CPU time shows the work when other jobs
    share the machine and stretch the wall time)."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def __call__(self, function) -> float:
        function()  # warm-up: oneDNN picks its kernels on the first call
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        self.cpu += time.process_time() - cpu
        seconds = time.perf_counter() - wall
        self.wall += seconds
        return seconds


def mni_brain_counts(segment_size: int) -> dict:
    """Axial slices holding brain and DeepMedic blocks covering it, on the 1 mm MNI152 brain mask."""
    from nilearn.datasets import load_mni152_brain_mask

    from .tasks.mets_3d.method import block_starts, output_block

    brain = np.asarray(load_mni152_brain_mask(resolution=1).get_fdata()) > 0
    brain = np.transpose(brain, (2, 1, 0))  # (x, y, z) -> (z, y, x), axial slices first
    return {"brain_slices": int(brain.any(axis=(1, 2)).sum()),
            "deepmedic_blocks": len(block_starts(brain, output_block(segment_size)))}


def _folds(task: str, default: int) -> int:
    from .models.registry import ModelRegistry

    try:
        return len(ModelRegistry.load().default_for(task).folds)
    except Exception:  # no model set installed: the paper's ensemble size
        return default


def measure_paper_network(task: str) -> dict:
    """Seconds per unit and per case of one task's paper-size network (call in a fresh process)."""
    from .benchmark import PeakMemory
    from .explain import ensemble_cam
    from .networks import build_deepmedic, build_googlenet_fcn, build_slice_resnet50, build_tumour_type_cnn
    from .networks.deepmedic import fused_for_inference, input_size
    from .tasks.mets_3d.method import DEFAULT_SEGMENT, output_block
    from .threads import configure_threads

    threads = configure_threads()
    torch.manual_seed(0)
    clock = _Clock()
    with PeakMemory() as memory:
        if task == "gbm-met":
            model = build_slice_resnet50().eval()
            images = torch.randn(GBM_MET_BATCH, 3, 224, 224)
            with torch.inference_mode():
                per_batch = clock(lambda: model(images))
            cam = clock(lambda: ensemble_cam([model], images, torch.zeros(GBM_MET_BATCH, dtype=torch.long)))
            folds = _folds(task, 5)
            unit = {"unit": "ROI slice, 224 px, classification + CAM", "seconds_per_unit":
                    round((per_batch + cam) / GBM_MET_BATCH, 4), "units_per_case": GBM_MET_ROI_SLICES}
        elif task == "mets-25d":
            model = build_googlenet_fcn(in_channels=METS_25D_CHANNELS, width=1.0).eval()
            slices = torch.randn(METS_25D_BATCH, METS_25D_CHANNELS, 256, 256)
            with torch.inference_mode():
                seconds = clock(lambda: model(slices))
            folds = _folds(task, 1)
            unit = {"unit": "axial slice, 256 px, 28 channels", "seconds_per_unit": round(seconds / METS_25D_BATCH, 4),
                    "units_per_case": mni_brain_counts(DEFAULT_SEGMENT)["brain_slices"]}
        elif task == "mets-3d":
            model = fused_for_inference(build_deepmedic().eval())
            block = output_block(DEFAULT_SEGMENT)
            cube = torch.randn(1, 1, *[input_size(block)] * 3).contiguous(memory_format=torch.channels_last_3d)
            with torch.inference_mode():
                seconds = clock(lambda: model(cube, block))
            folds = _folds(task, 5)
            unit = {"unit": f"DeepMedic block, {DEFAULT_SEGMENT}^3 segment ({block}^3 output)",
                    "seconds_per_unit": round(seconds, 4),
                    "units_per_case": mni_brain_counts(DEFAULT_SEGMENT)["deepmedic_blocks"]}
        elif task == "tumour-type":
            model = build_tumour_type_cnn().eval()
            volume = torch.randn(1, 1, *[TUMOUR_TYPE_SIZE] * 3)
            with torch.inference_mode():
                forward = clock(lambda: model(volume))
            grad_cam = clock(lambda: ensemble_cam([model], volume, torch.tensor([0]), method="gradcam",
                                                   target_layer=model.cam_layer))
            folds = _folds(task, 1)
            unit = {"unit": f"whole volume, {TUMOUR_TYPE_SIZE}^3, classification + Grad-CAM",
                    "seconds_per_unit": round(forward + grad_cam, 4), "units_per_case": 1}
        else:
            raise ValueError(f"unknown task {task!r}")
    parameters = sum(p.numel() for p in model.parameters())
    unit["cpu_seconds_per_unit"] = round(unit["seconds_per_unit"] * clock.cpu / max(clock.wall, 1e-9), 4)
    per_model = unit["seconds_per_unit"] * unit["units_per_case"]
    return {**unit, "parameters_millions": round(parameters / 1e6, 2), "folds": folds, "threads": threads,
            "seconds_per_case_one_model": round(per_model, 1), "seconds_per_case": round(per_model * folds, 1),
            "peak_memory_mb": memory.peak_mb}
