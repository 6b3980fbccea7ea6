"""mets-25d (Grøvik 2020): the GoogLeNet FCN's shapes, the 2.5D slice stacks, per-slice
equalisation, and the bundled demo weights on a held-out oblique, anisotropic phantom."""

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from torch import nn

from BrainTumorAILib.catalog import network_builder
from BrainTumorAILib.networks import build_googlenet_fcn
from BrainTumorAILib.networks.googlenet_fcn import DOWNSAMPLING
from BrainTumorAILib.tasks.mets_25d import method as mets_25d
from BrainTumorAILib.tasks.mets_25d.method import AxialOrder, SliceWindow

from conftest import rotation_matrix


# --- the network -------------------------------------------------------------------------------

def test_fcn_gives_one_logit_per_input_pixel_and_downsamples_by_four_inside():
    model = build_googlenet_fcn(in_channels=7, width=0.0625, dropout=0.0).eval()
    x = torch.randn(2, 7, 32, 48)
    with torch.no_grad():
        assert model(x).shape == (2, 1, 32, 48)
        assert model.features(x).shape[-2:] == (32 // DOWNSAMPLING, 48 // DOWNSAMPLING)
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.randn(1, 7, 30, 32))
    assert network_builder("googlenet_fcn") is build_googlenet_fcn


def test_fcn_has_the_papers_topology_at_full_width():
    model = build_googlenet_fcn(in_channels=28, width=1.0)
    first = model.stem[0][0]
    assert (first.kernel_size, first.stride, first.in_channels) == ((7, 7), (1, 1), 28)
    halving = [m for m in model.modules() if isinstance(m, nn.MaxPool2d) and m.stride == 2]
    assert len(halving) == 2  # pools 1 and 3 of Inception v1 removed, 2 and 4 kept
    up = model.up
    assert (up.in_channels, up.out_channels, up.kernel_size, up.stride) == (1024, 1, (8, 8), (4, 4))
    assert [m for m in model.modules() if isinstance(m, nn.Linear)] == []  # fully convolutional


# --- 2.5D stacks -------------------------------------------------------------------------------

def test_slice_stacks_are_sequence_major_inferior_to_superior_with_edges_repeated():
    n_slices = 5
    volumes = np.zeros((2, n_slices, 4, 4), np.float32)
    for sequence in range(2):
        for index in range(n_slices):
            volumes[sequence, index] = 100 * sequence + index
    stacks = mets_25d.stack_slices(volumes, [0, 2, 4], context=3)
    assert stacks.shape == (3, 14, 4, 4)
    channels = stacks[:, :, 0, 0]
    assert channels[0].tolist() == [0, 0, 0, 0, 1, 2, 3, 100, 100, 100, 100, 101, 102, 103]
    assert channels[1].tolist() == [0, 0, 1, 2, 3, 4, 4, 100, 100, 101, 102, 103, 104, 104]
    assert channels[2].tolist() == [1, 2, 3, 4, 4, 4, 4, 101, 102, 103, 104, 104, 104, 104]


def _image(array_zyx, spacing, direction, origin=(10.0, -20.0, 30.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(array_zyx)
    image.SetSpacing(spacing)
    image.SetDirection(tuple(np.asarray(direction, float).ravel()))
    image.SetOrigin(origin)
    return image


@pytest.mark.parametrize("direction", [
    rotation_matrix(8, -5, 12),                                   # oblique axial
    rotation_matrix(180, 0, 0) @ rotation_matrix(4, 3, 0),        # axial, stored superior to inferior
    np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]]) @ rotation_matrix(5, 0, 0),  # sagittal storage
])
def test_axial_order_runs_inferior_to_superior_and_inverts(direction):
    image = _image(np.zeros((6, 7, 8), np.float32), (0.9, 1.1, 2.5), direction)
    order = AxialOrder.of(image)
    z_index, y_index, x_index = np.indices(sitk.GetArrayViewFromImage(image).shape)
    # physical S (LPS z) of every voxel, seen in axial order: must grow from slice to slice
    superior = np.zeros(z_index.shape)
    for k, j, i in zip(z_index.ravel(), y_index.ravel(), x_index.ravel()):
        superior[k, j, i] = image.TransformIndexToPhysicalPoint((int(i), int(j), int(k)))[2]
    axial = order.to_axial(superior)
    assert np.all(np.diff(axial.mean(axis=(1, 2))) > 0)
    assert np.array_equal(order.from_axial(axial), superior)
    stacked = np.stack([superior, -superior])  # leading channel axes are carried along
    assert np.array_equal(order.from_axial(order.to_axial(stacked)), stacked)


def test_brain_window_is_a_square_around_the_brain_and_crops_back_losslessly():
    brain = np.zeros((6, 40, 30), bool)
    brain[2:5, 5:31, 10:20] = True
    window = mets_25d.brain_window(brain, spacing_mm=1.0, margin_mm=3.0)
    assert window.slices == (2, 3, 4)
    assert window.side == 26 + 6
    assert window.row <= 5 - 3 and window.row + window.side >= 31 + 3
    assert window.column <= 10 - 3 and window.column + window.side >= 20 + 3
    values = np.random.default_rng(0).random((2, 6, 40, 30)).astype(np.float32)
    edge = SliceWindow(row=-5, column=20, side=20, slices=(0,))  # reaches past two borders
    for w in (window, edge):
        square = mets_25d.crop_window(values, w)
        back = mets_25d.uncrop_window(square, w, (40, 30))
        rows = slice(max(w.row, 0), min(w.row + w.side, 40))
        cols = slice(max(w.column, 0), min(w.column + w.side, 30))
        assert np.array_equal(back[..., rows, cols], values[..., rows, cols])
        assert back.sum() == pytest.approx(values[..., rows, cols].sum())


def test_each_axial_slice_is_equalised_inside_the_brain():
    rng = np.random.default_rng(1)
    array = rng.gamma(2.0, 1.0, size=(5, 30, 30)).astype(np.float32)
    array *= np.arange(1, 6)[:, None, None] ** 2  # every slice its own intensity scale
    brain = np.zeros(array.shape, np.uint8)
    brain[:, 5:25, 5:25] = 1
    direction = rotation_matrix(6, 4, -10)
    image, mask = _image(array, (1.0, 1.0, 1.0), direction), _image(brain, (1.0, 1.0, 1.0), direction)
    volumes = mets_25d.equalised_volumes({"t1ce": image}, mask, ["t1ce"])
    assert volumes.shape == (1, 5, 30, 30)
    inside = brain > 0
    assert np.all(volumes[0][~inside] == 0)
    for index in range(5):
        values = volumes[0, index][inside[index]]
        assert values.max() == pytest.approx(1.0, abs=1e-3)
        assert np.mean(values) == pytest.approx(0.5, abs=0.03)  # a uniform distribution per slice
        # the rank order within the slice is kept
        original = array[index][inside[index]]
        assert np.corrcoef(np.argsort(np.argsort(values)), np.argsort(np.argsort(original)))[0, 1] > 0.99
    # the same anatomy at another scale equalises to the same values
    assert np.allclose(volumes[0, 0][inside[0]].mean(), volumes[0, 4][inside[4]].mean(), atol=0.03)


class _BrightCentreSlice(nn.Module):
    """A fixed rule standing in for a trained network: lesion where the centre slice of the first
    sequence is bright. Used only to check the slicing, cropping and resizing plumbing."""

    def __init__(self, centre_channel: int):
        super().__init__()
        self.centre_channel = centre_channel

    def forward(self, x):
        return 40.0 * (x[:, self.centre_channel:self.centre_channel + 1] - 0.5)


def test_probability_volume_puts_each_slice_back_where_it_came_from():
    brain = np.zeros((20, 60, 50), bool)
    brain[2:18, 8:52, 6:44] = True
    volume = np.zeros((1, *brain.shape), np.float32)
    volume[0, 9:12, 20:28, 30:36] = 1.0  # a bright block inside the brain
    probability = mets_25d.probability_volume([_BrightCentreSlice(3)], volume, brain, 1.0, image_size=32,
                                              device=torch.device("cpu"), context=3, margin_mm=2.0)
    assert probability.shape == brain.shape
    assert np.all(probability[~brain] == 0)
    found = probability >= 0.5
    truth = volume[0] > 0
    dice = 2 * (found & truth).sum() / (found.sum() + truth.sum())
    assert dice > 0.8
    assert not found[:9].any() and not found[12:].any()  # only the block's own slices


# --- the committed demo weights on a held-out synthetic case ------------------------------------

HELD_OUT_SEED = 7  # the demo cohort's seeds are 8080-8083 (make_cohort seed 2020, 4 per kind)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from BrainTumorAILib.image import read_image
    from BrainTumorAILib.models import ModelRegistry
    from BrainTumorAILib.preprocessing import PreprocessOptions, preprocess
    from BrainTumorAILib.preprocessing.case import PreprocessedCase
    from BrainTumorAILib.progress import NullProgress
    from BrainTumorAILib.synthetic import make_case
    from BrainTumorAILib.tasks.context import TaskContext
    from BrainTumorAILib.tasks.mets_25d import pipeline as mets_25d_task

    registry = ModelRegistry.load()
    if not registry.model_sets(mets_25d.TASK):
        pytest.skip("no mets-25d model set registered (make weights)")
    model_set = registry.default_for(mets_25d.TASK)
    folder = make_case(tmp_path_factory.mktemp("held_out"), "metastases", HELD_OUT_SEED, voxel_mm=1.5)
    # every sequence an oblique, anisotropic acquisition with its own head pose (FLAIR: thick slices)
    images = {name: read_image(folder / f"{name}.nii.gz") for name in model_set.inputs}
    settings = {k: v for k, v in model_set.preprocessing.items() if k in PreprocessOptions.__dataclass_fields__}
    case = preprocess(images, PreprocessOptions(**settings))
    # Segment only the axial slab that holds the true lesions (the whole brain takes minutes on a
    # shared CPU). The in-plane window then comes from the slab's brain, close to the whole brain's
    # where the slab crosses the brain's widest part. The true lesion ids, drawn on the T1CE input,
    # go onto the reference grid (the same physical space).
    lesions = sitk.Resample(read_image(folder / "truth" / "lesions_t1ce.nii.gz"), case.brain_mask,
                            sitk.Transform(), sitk.sitkNearestNeighbor)
    order = AxialOrder.of(case.brain_mask)
    axial = order.to_axial(sitk.GetArrayFromImage(lesions) > 0)
    held = np.flatnonzero(axial.any(axis=(1, 2)))
    low, high = max(held[0] - 8, 0), min(held[-1] + 9, axial.shape[0])
    if order.flip:
        low, high = axial.shape[0] - high, axial.shape[0] - low
    box = [slice(None)] * 3
    box[2 - order.axis] = slice(int(low), int(high))  # SimpleITK indexes (x, y, z)
    slab = PreprocessedCase(reference="t1ce", images={k: v[tuple(box)] for k, v in case.images.items()},
                            brain_mask=case.brain_mask[tuple(box)], transforms=case.transforms,
                            input_geometry=case.input_geometry)
    context = TaskContext(images=images, roi=None, device=torch.device("cpu"),
                          preprocessed=lambda _settings: slab, registry=registry, progress=NullProgress())
    output = mets_25d_task.run(context)
    truth = sitk.GetArrayFromImage(lesions[tuple(box)])
    return output, truth, images["t1ce"], slab, model_set


def test_demo_weights_find_the_held_out_lesions_in_the_t1ce_geometry(demo_run):
    from BrainTumorAILib.image import same_geometry

    output, truth, t1ce, slab, model_set = demo_run
    seg, prob = output.images["mets-25d_seg.nii.gz"], output.images["mets-25d_prob.nii.gz"]
    assert same_geometry(seg, t1ce) and same_geometry(prob, t1ce)
    assert output.result["threshold"] == model_set.thresholds["probability"]
    assert output.result["inputs"] == model_set.inputs and output.result["notice"]
    # true lesions (on the 1 mm slab) against the found ones (on the T1CE input grid), in physical space
    found = sitk.Resample(seg, slab.brain_mask, sitk.Transform(), sitk.sitkNearestNeighbor)
    found = sitk.GetArrayFromImage(found)
    hits, sizes = [], []
    for lesion_id in np.unique(truth[truth > 0]):
        voxels = truth == lesion_id
        hits.append(bool(found[voxels].any()))
        sizes.append(int(voxels.sum()))  # mm^3 on the 1 mm grid
    matched = set(np.unique(found[truth > 0])) - {0}
    false_positives = len(output.lesions) - len(matched)
    large = [hit for hit, size in zip(hits, sizes) if size >= 65]  # a 5 mm sphere
    assert large and np.mean(large) >= 0.75, (hits, sizes)
    assert false_positives <= 2, (false_positives, hits, sizes)
    dice = 2 * np.sum((found > 0) & (truth > 0)) / (np.sum(found > 0) + np.sum(truth > 0))
    assert dice >= 0.5, dice



# --- training: lesion-balanced 2.5D samples and the threshold rule --------------------------------

def _lesion_case():
    from BrainTumorAILib.tasks.metastases.cases import LesionCase

    brain = np.zeros((20, 60, 60), bool)
    brain[2:18, 6:54, 8:52] = True
    truth = np.zeros_like(brain)
    truth[8:11, 30:34, 20:24] = True
    images = {"t1ce": brain * 0.5 + truth * 0.5, "flair": brain * 0.3}
    return LesionCase("case", {k: v.astype(np.float32) for k, v in images.items()}, brain, truth, (1.0, 1.0, 1.0))


def test_half_of_a_cases_training_slices_cross_a_lesion_and_crops_keep_it():
    from BrainTumorAILib.tasks.mets_25d.training import SliceDataset

    torch.manual_seed(0)
    dataset = SliceDataset([_lesion_case()], ["t1ce", "flair"], image_size=32, context=3, margin_mm=2.0,
                           per_case=8, train=True, augmentations=["flip", "rot90"], crop=16)
    assert dataset.positive_flags() == [True] * 4 + [False] * 4
    for item in range(4):
        sample = dataset[item]
        assert sample["input"].shape == (14, 16, 16) and sample["target"].shape == (1, 16, 16)
        assert sample["target"].max() > 0.5  # the crop holds the lesion whatever the flips and turns
    validation = SliceDataset([_lesion_case()], ["t1ce", "flair"], 32, 3, 2.0, 8, train=False, seed=3, crop=16)
    assert all(torch.equal(validation[i]["input"], validation[i]["input"]) for i in range(8))


def test_threshold_rules_youden_and_at_most_one_false_positive_per_case():
    from BrainTumorAILib.metrics import CaseCandidates
    from BrainTumorAILib.tasks.mets_25d.training import choose_threshold
    from BrainTumorAILib.training.config import TrainingConfig

    roc = {"youden_threshold": 0.03}
    cases = [CaseCandidates("a", 2, [0.99, 0.6], [0.2, 0.5, 0.9]), CaseCandidates("b", 1, [0.97], [0.3, 0.95])]
    youden = choose_threshold(TrainingConfig(), roc, cases)
    assert youden["threshold"] == 0.03 and youden["rule"] == "youden"
    limited = choose_threshold(TrainingConfig(model={"threshold_rule": "max_fp_per_case", "max_fp_per_case": 1.0}),
                               roc, cases)
    kept = [s for c in cases for s in c.false_positive_scores if s >= limited["threshold"]]
    assert kept == [0.9, 0.95]  # two cases, at most two false positives
    assert 0.5 < limited["threshold"] < 0.6 and limited["youden_threshold"] == 0.03
    paper = choose_threshold(TrainingConfig(model={"threshold_rule": "paper"}), roc, cases)
    assert paper["threshold"] == 0.93 and "0.03" in paper["how"]
