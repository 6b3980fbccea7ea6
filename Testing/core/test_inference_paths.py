"""The fast inference paths give the maps of the straightforward ones (tolerance 1e-5).

Fast, as the tasks run: only DeepMedic blocks / axial slices that hold brain, several at a time,
batch-norm folded into the convolutions, channels-last, torch.inference_mode. Straightforward,
written out here: every block of a lattice starting at the volume's corner (or every slice), one
at a time, the network as built, no_grad, then the map kept inside the brain.
"""

import numpy as np
import torch

from BrainTumorAILib.networks.deepmedic import DeepMedic, input_size
from BrainTumorAILib.networks.googlenet_fcn import GoogLeNetFCN
from BrainTumorAILib.tasks.mets_3d import method as mets_3d
from BrainTumorAILib.tasks.mets_25d import method as mets_25d

TOLERANCE = 1e-5


def randomised(model):
    """Random weights (seeded when built) and non-trivial batch-norm statistics, in eval mode."""
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) * 0.2 - 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def brain_phantom(shape, rng):
    """A volume and an off-centre ellipsoid 'brain' in it, with empty blocks and slices around."""
    grid = np.indices(shape).astype(float)
    centre = np.array(shape) * np.array([0.45, 0.55, 0.5])
    radii = np.array(shape) * np.array([0.3, 0.33, 0.3])
    brain = (((grid - centre[:, None, None, None]) / radii[:, None, None, None]) ** 2).sum(axis=0) <= 1
    volume = rng.normal(size=(1, *shape)).astype(np.float32) * brain
    return volume, brain


@torch.no_grad()
def straightforward_3d(model, volume, brain, segment_size):
    block = mets_3d.output_block(segment_size)
    side = input_size(block)
    margin = (side - block) // 2
    _, nz, ny, nx = volume.shape
    padded = np.pad(volume, [(0, 0)] + [(margin, margin + block)] * 3)
    out = np.zeros((nz + block, ny + block, nx + block), np.float32)
    for z in range(0, nz, block):
        for y in range(0, ny, block):
            for x in range(0, nx, block):
                cube = torch.from_numpy(np.ascontiguousarray(padded[None, :, z:z + side, y:y + side, x:x + side]))
                out[z:z + block, y:y + block, x:x + block] = torch.sigmoid(model(cube, block))[0, 0].numpy()
    return out[:nz, :ny, :nx] * brain


def test_mets_3d_brain_blocks_fused_channels_last_in_batches_match_every_block_one_by_one():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = randomised(DeepMedic(widths=(3, 3, 4, 4, 4, 4, 5, 5), fc_width=6))
    volume, brain = brain_phantom((40, 44, 38), rng)
    segment = 43
    fast = mets_3d.fold_probabilities([model], volume, brain, segment, batch_size=3)[0]
    slow = straightforward_3d(model, volume, brain, segment)
    block = mets_3d.output_block(segment)
    assert len(mets_3d.block_starts(brain, block)) < int(np.prod(np.ceil(np.array(brain.shape) / block)))
    assert np.abs(fast - slow).max() < TOLERANCE
    assert slow[brain].std() > 1e-4  # the maps are not flat


def test_mets_25d_brain_slices_in_batches_match_every_slice_one_by_one():
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    models = [randomised(GoogLeNetFCN(in_channels=2 * 7, width=0.0625, dropout=0.0)) for _ in range(2)]
    volume, brain = brain_phantom((16, 40, 36), rng)
    volumes = np.concatenate([volume, rng.normal(size=volume.shape).astype(np.float32) * brain])
    fast = mets_25d.probability_volume(models, volumes, brain, 1.0, 32, torch.device("cpu"), batch_size=5)
    window = mets_25d.brain_window(brain, 1.0)
    slices = mets_25d.window_slices(volumes, window, 32)
    with torch.no_grad():
        maps = [[torch.sigmoid(model(torch.from_numpy(mets_25d.stack_slices(slices.numpy(), [c]))))[0, 0].numpy()
                 for c in range(brain.shape[0])] for model in models]
    mean = torch.from_numpy(np.mean(maps, axis=0)[:, None])
    at_window = torch.nn.functional.interpolate(mean, size=(window.side, window.side), mode="bilinear",
                                                align_corners=False)[:, 0].numpy()
    slow = np.where(brain, np.clip(mets_25d.uncrop_window(at_window, window, brain.shape[1:]), 0, 1), 0)
    assert len(window.slices) < brain.shape[0]  # slices without brain were skipped
    assert np.abs(fast - slow).max() < TOLERANCE
    assert slow[brain].std() > 1e-4
