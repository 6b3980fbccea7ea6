"""Seconds of the metastasis tasks' inference with each speed lever on and off, as JSON.

    .venv/bin/python Utilities/measure_inference_levers.py --out levers.json

On the 1 mm MNI152 brain (nilearn) with the bundled demo networks: DeepMedic (mets-3d) blocks
over the brain only vs over the whole field of view, batch-norm fused + channels-last vs the
network as built, batches of 2 vs 1, torch.inference_mode vs no_grad; the 2.5D GoogLeNet FCN
(mets-25d) on brain slices only vs every slice, batches of 16 vs 1. Each variant is timed twice,
the faster kept; wall and process CPU seconds, and the load average, are recorded because a
shared machine's other work moves every number. The maps of the fast paths equal the plain
ones (Testing/core/test_inference_paths.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "BrainTumorAI"))

from BrainTumorAILib.models.registry import ModelRegistry  # noqa: E402
from BrainTumorAILib.networks import build_network  # noqa: E402
from BrainTumorAILib.networks.deepmedic import fused_for_inference, input_size  # noqa: E402
from BrainTumorAILib.tasks.mets_25d import method as mets_25d  # noqa: E402
from BrainTumorAILib.tasks.mets_3d import method as mets_3d  # noqa: E402
from BrainTumorAILib.threads import configure_threads  # noqa: E402


def timed(function, repeats: int = 2) -> dict:
    best = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        result = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
        best = result if best is None or result["wall_s"] < best["wall_s"] else best
    return best


def deepmedic_blocks(model, volume, brain, segment, brain_only, fused, batch_size, grad_mode):
    block = mets_3d.output_block(segment)
    side = input_size(block)
    margin = (side - block) // 2
    padded = np.pad(volume, [(0, 0)] + [(margin, margin + block)] * 3)
    net = fused_for_inference(model) if fused else model
    starts = (mets_3d.block_starts(brain, block) if brain_only else
              mets_3d.block_starts(np.ones_like(brain), block))
    with grad_mode():
        for first in range(0, len(starts), batch_size):
            cubes = np.stack([padded[:, z:z + side, y:y + side, x:x + side] for z, y, x in starts[first:first + batch_size]])
            inputs = torch.from_numpy(cubes)
            if fused:
                inputs = inputs.contiguous(memory_format=torch.channels_last_3d)
            net(inputs, block)
    return len(starts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    threads = configure_threads(args.threads)
    from nilearn.datasets import load_mni152_brain_mask

    brain = np.transpose(np.asarray(load_mni152_brain_mask(resolution=1).get_fdata()) > 0, (2, 1, 0))
    rng = np.random.default_rng(0)
    volume = (rng.normal(size=(1, *brain.shape)) * brain).astype(np.float32)
    registry = ModelRegistry.load()
    report = {"threads": threads, "load_average_before": [round(v, 2) for v in os.getloadavg()],
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}

    model = registry.default_for("mets-3d").load_folds(build_network)[0]
    segment = mets_3d.DEFAULT_SEGMENT
    variants = {
        "as_run": (True, True, 2, torch.inference_mode),
        "every_block_of_the_field_of_view": (False, True, 2, torch.inference_mode),
        "not_fused_not_channels_last": (True, False, 2, torch.inference_mode),
        "batch_1": (True, True, 1, torch.inference_mode),
        "no_grad_instead_of_inference_mode": (True, True, 2, torch.no_grad),
    }
    report["mets_3d_one_fold"] = {name: timed(lambda v=v: deepmedic_blocks(model, volume, brain, segment, *v))
                                  for name, v in variants.items()}

    model_set = registry.default_for("mets-25d")
    fcn = model_set.load_folds(build_network)[0]
    size = int(model_set.preprocessing["image_size"])
    volumes = np.concatenate([volume] * len(model_set.inputs))
    every_slice = np.zeros_like(brain)
    every_slice[:, brain.any(axis=0)] = True  # every axial slice holds 'brain' where any slice does
    report["mets_25d_one_fold"] = {
        "as_run": timed(lambda: mets_25d.probability_volume([fcn], volumes, brain, 1.0, size, torch.device("cpu"))),
        "every_slice": timed(lambda: mets_25d.probability_volume([fcn], volumes, every_slice, 1.0, size,
                                                                 torch.device("cpu"))),
        "batch_1": timed(lambda: mets_25d.probability_volume([fcn], volumes, brain, 1.0, size, torch.device("cpu"),
                                                             batch_size=1)),
    }
    report["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
