"""mets-3d (Jünger 2021): DeepMedic's shapes, receptive fields and residuals, the tiling, the task
output on the T1CE input's grid, and the committed demo weights on a held-out synthetic case."""

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from BrainTumorAILib.image import lps_to_ras, ras_to_lps, read_image, same_geometry
from BrainTumorAILib.networks import build_network
from BrainTumorAILib.networks.deepmedic import DeepMedic, fused_for_inference, input_size
from BrainTumorAILib.preprocessing import PreprocessOptions, preprocess
from BrainTumorAILib.preprocessing.case import PreprocessedCase
from BrainTumorAILib.preprocessing.grid import empty_image, geometry, isotropic_grid
from BrainTumorAILib.tasks.mets_3d import method as mets_3d
from BrainTumorAILib.catalog import LESION_KEYS
from BrainTumorAILib.tasks.metastases.common import LesionMaps, lesion_output
from BrainTumorAILib.tasks.metastases.tentorium import TentorialLocator
from conftest import rotation_matrix

TINY = dict(in_channels=1, widths=(2, 2, 3, 3, 3, 3, 4, 4), fc_width=4)


def randomised(model):
    """Non-trivial batch-norm statistics, so eval-mode checks are not checks of the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.copy_(torch.rand(module.num_features, generator=generator) * 0.2 - 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def test_segment_sizes_and_output_shapes():
    model = randomised(DeepMedic(**TINY))
    # Jünger 2021: 25^3 training segments -> 9^3 output; the context pathway reads 57^3.
    assert input_size(9) == 57 and mets_3d.output_block(25) == 9
    assert input_size(27) == 75 and mets_3d.output_block(mets_3d.PAPER_SEGMENT) == 27
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 57, 57, 57)).shape == (2, 1, 9, 9, 9)
        assert model(torch.zeros(1, 1, 75, 75, 75), 27).shape == (1, 1, 27, 27, 27)
    with pytest.raises(ValueError):
        model(torch.zeros(1, 1, 56, 56, 56))
    with pytest.raises(ValueError):
        mets_3d.output_block(45)  # 29 is not a multiple of 3: the context cells would shift
    assert build_network(type("A", (), {"name": "deepmedic", "config": dict(TINY)})()).prediction.out_channels == 1


def receptive_extent(gradient: torch.Tensor) -> list[int]:
    nonzero = torch.nonzero(gradient.abs().sum(dim=(0, 1)) > 0)
    return (nonzero.max(dim=0).values - nonzero.min(dim=0).values + 1).tolist()


def test_receptive_fields_of_the_two_pathways():
    model = randomised(DeepMedic(**TINY)).double()
    x = torch.randn(1, 1, 57, 57, 57, dtype=torch.float64, requires_grad=True)
    model(x)[0, 0, 4, 4, 4].backward()
    assert receptive_extent(x.grad) == [51, 51, 51]  # 17 context cells of 3 voxels
    x.grad = None
    model.normal(x[:, :, 16:41, 16:41, 16:41])[0, 0, 4, 4, 4].backward()
    assert receptive_extent(x.grad) == [17, 17, 17]  # eight 3x3x3 layers at full resolution


def test_residual_connections_at_layers_4_6_8():
    """With layer 4's convolution silenced, its output is the constant PReLU(BN(0)) plus the
    residual: layer 2's output, centre-cropped and padded with a zero channel (2 -> 3)."""
    from BrainTumorAILib.networks.deepmedic import Pathway

    pathway = randomised_pathway(Pathway(1, (2, 2, 3, 3)))
    x = torch.randn(1, 1, 25, 25, 25)
    with torch.no_grad():
        pathway.layers[3][0].weight.zero_()
        out1 = pathway.layers[0](x)
        out2 = pathway.layers[1](out1)
        out3 = pathway.layers[2](out2)  # layer 3 has no residual
        silenced = pathway.layers[3](out3)
        skip = out2[:, :, 2:-2, 2:-2, 2:-2]
        expected = silenced + torch.cat([skip, torch.zeros_like(skip[:, :1])], dim=1)
        np.testing.assert_allclose(pathway(x).numpy(), expected.numpy(), atol=1e-6)
        assert silenced.std(dim=(2, 3, 4)).max() < 1e-6  # the silenced block alone is constant per channel


def randomised_pathway(pathway):
    holder = torch.nn.Module()
    holder.pathway = pathway
    randomised(holder)
    return pathway.eval()


def test_fused_inference_copy_gives_the_same_output():
    model = randomised(DeepMedic(**TINY))
    x = torch.randn(1, 1, 57, 57, 57)
    with torch.no_grad():
        np.testing.assert_allclose(fused_for_inference(model)(x).numpy(), model(x).numpy(), atol=1e-5)


def test_tiling_covers_the_brain_and_does_not_depend_on_the_segment_size():
    model = randomised(DeepMedic(**TINY))
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(1, 30, 41, 35)).astype(np.float32)
    brain = np.zeros((30, 41, 35), bool)
    brain[4:27, 6:37, 5:30] = True
    brain[4:10, 6:12, 5:11] = False
    starts = mets_3d.block_starts(brain, 27)
    covered = np.zeros_like(brain)
    for z, y, x in starts:
        covered[z:z + 27, y:y + 27, x:x + 27] = True
    assert covered[brain].all() and all(s % 3 == 0 for start in starts for s in start)
    small = mets_3d.fold_probabilities([model], volume, brain, 43)
    large = mets_3d.fold_probabilities([model, model], volume, brain, 49)
    np.testing.assert_allclose(small[0], large[0], atol=1e-5)
    np.testing.assert_allclose(large[0], large[1])
    assert small[0][brain].min() > 0 and small[0][~brain].max() == 0


def fake_case() -> PreprocessedCase:
    """A T1CE input on an oblique, anisotropic grid and its 1 mm reference grid (same space)."""
    t1ce = sitk.Image([64, 60, 24], sitk.sitkFloat32)
    t1ce.SetSpacing((0.9, 0.95, 2.4))
    t1ce.SetDirection(tuple(rotation_matrix(10, -6, 14).ravel()))
    t1ce.SetOrigin((30.0, -20.0, -15.0))
    reference = isotropic_grid(t1ce, 1.0)
    brain = sitk.Cast(reference, sitk.sitkUInt8) + 1
    image = sitk.Cast(reference, sitk.sitkFloat32)
    return PreprocessedCase(reference="t1ce", images={"t1ce": image}, brain_mask=brain,
                            transforms={"t1ce": np.eye(4)}, input_geometry={"t1ce": geometry(t1ce)})


def test_task_output_is_on_the_t1ce_input_grid():
    case = fake_case()
    shape = sitk.GetArrayViewFromImage(case.brain_mask).shape
    folds = np.zeros((5,) + shape, np.float32)
    z, y, x = np.indices(shape)
    centre = np.array(shape) // 2
    sphere = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= 5 ** 2
    folds[:3][:, sphere] = 0.9           # three folds find it: kept by the vote
    folds[4, 3:6, 3:6, 3:6] = 0.8        # one fold's false positive: voted out
    maps = LesionMaps(folds.mean(axis=0), list(folds))
    output = lesion_output("mets-3d", maps, case, None, threshold=0.5, locate=lambda p: ["infratentorial"] * len(p))
    seg, prob = output.images["mets-3d_seg.nii.gz"], output.images["mets-3d_prob.nii.gz"]
    t1ce_grid = empty_image(case.input_geometry["t1ce"])
    assert same_geometry(seg, t1ce_grid) and same_geometry(prob, t1ce_grid)
    assert seg.GetPixelID() == sitk.sitkUInt8 and prob.GetPixelID() == sitk.sitkFloat32
    values = sitk.GetArrayViewFromImage(prob)
    assert values.min() >= 0 and values.max() <= 1
    assert np.unique(sitk.GetArrayViewFromImage(seg)).tolist() == [0, 1]
    result = output.result
    assert result["n_lesions"] == 1 and result["n_lesions_ge_10mm3"] == 1 and result["threshold"] == 0.5
    (row,) = output.lesions
    assert tuple(row) == LESION_KEYS
    assert row["fold_agreement"] == 0.6 and row["location"] == "infratentorial"
    assert row["max_probability"] == pytest.approx(0.54, abs=0.01)  # mean of 0.9, 0.9, 0.9, 0, 0
    # 4/3 pi 5^3 = 524 mm^3 drawn at 1 mm, measured on the 0.9 x 0.95 x 2.4 mm input grid
    assert row["volume_mm3"] == pytest.approx(524, rel=0.15)
    sphere_centre = case.brain_mask.TransformIndexToPhysicalPoint(tuple(int(c) for c in centre[::-1]))
    assert result["lesions"][0]["centroid_ras"] == pytest.approx(lps_to_ras(sphere_centre).tolist(), abs=1.3)


# --- the committed demo weights on a held-out synthetic case -------------------------------------

HELD_OUT_SEED = 7  # the demo cohort's seeds are 16168-16175 (make_cohort seed 2021, 8 per kind)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from BrainTumorAILib.models import ModelRegistry
    from BrainTumorAILib.synthetic import load_truth, make_case

    registry = ModelRegistry.load()
    if not registry.model_sets("mets-3d"):
        pytest.skip("no mets-3d model set registered (make weights)")
    model_set = registry.default_for("mets-3d")
    folder = make_case(tmp_path_factory.mktemp("held_out"), "metastases", HELD_OUT_SEED, voxel_mm=1.5)
    truth = load_truth(folder)
    images = {name: read_image(folder / f"{name}.nii.gz") for name in dict.fromkeys(["t1ce", *model_set.inputs])}
    settings = {k: v for k, v in model_set.preprocessing.items() if k in PreprocessOptions.__dataclass_fields__}
    case = preprocess(images, PreprocessOptions(**settings))
    locator = TentorialLocator(case.images["t1ce"], case.brain_mask)
    # Segment a box around the true lesions only (the whole brain takes minutes on a shared CPU).
    truth_lps = np.array([ras_to_lps(np.array(lesion["center_ras"])) for lesion in truth["lesions"]])
    world_to_t1ce = np.array(truth["world_to_sequence"]["t1ce"])
    centres = truth_lps @ world_to_t1ce[:3, :3].T + world_to_t1ce[:3, 3]
    index = np.array([case.brain_mask.TransformPhysicalPointToContinuousIndex(p.tolist()) for p in centres])
    low = np.maximum(np.floor(index.min(axis=0) - 12), 0).astype(int)
    high = np.minimum(np.ceil(index.max(axis=0) + 12), np.array(case.brain_mask.GetSize()) - 1).astype(int)
    box = tuple(slice(int(a), int(b) + 1) for a, b in zip(low, high))
    cropped = PreprocessedCase(reference="t1ce", images={name: case.images[name][box] for name in images},
                               brain_mask=case.brain_mask[box], transforms=case.transforms,
                               input_geometry=case.input_geometry)
    volume = np.stack([sitk.GetArrayFromImage(cropped.images[name]) for name in model_set.inputs])
    brain = sitk.GetArrayFromImage(cropped.brain_mask) > 0
    models = model_set.load_folds(build_network)
    maps = mets_3d.predict_maps(models, volume, brain, int(model_set.preprocessing["segment_size"]))
    output = lesion_output("mets-3d", maps, cropped, model_set, float(model_set.thresholds["probability"]),
                           locate=locator)
    return output, truth, images["t1ce"], centres, len(models)


def test_demo_weights_find_the_held_out_lesions(demo_run):
    output, truth, t1ce, centres, n_folds = demo_run
    assert n_folds == 5 and output.result["fusion"] == "majority vote of 5 fold masks"
    assert same_geometry(output.images["mets-3d_seg.nii.gz"], t1ce)
    assert same_geometry(output.images["mets-3d_prob.nii.gz"], t1ce)
    found = np.array([[row["centroid_r"], row["centroid_a"], row["centroid_s"]] for row in output.lesions])
    assert len(found), "no lesion found"
    centres_ras = lps_to_ras(centres)
    hits = []
    for lesion, centre in zip(truth["lesions"], centres_ras):
        distance = np.linalg.norm(found - centre, axis=1).min()
        hits.append(distance <= lesion["diameter_mm"] / 2 + 3.0)
        if hits[-1]:
            row = output.lesions[int(np.argmin(np.linalg.norm(found - centre, axis=1)))]
            assert row["location"] == lesion["location"]
    large = [hit for hit, lesion in zip(hits, truth["lesions"]) if lesion["diameter_mm"] >= 5.0]
    assert np.mean(large) >= 0.75, (hits, [lesion["diameter_mm"] for lesion in truth["lesions"]])
    assert output.result["notice"] and output.result["model_set"]
