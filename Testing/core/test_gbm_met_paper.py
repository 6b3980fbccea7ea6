"""gbm-met as Shin 2021 ran it: no frozen random backbone, axial sections in physical space,
the CAM inside the ROI as drawn, the cut-off's provenance and the nested cut-off."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import lps_to_ras
from BrainTumorAILib.networks import build_slice_resnet50, freeze_backbone
from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.tasks.gbm_met import method as gbm_met
from BrainTumorAILib.tasks.gbm_met.cutoff import NESTED_SOURCE, PAPER_SOURCE, cutoff_source, nested_cutoffs
from BrainTumorAILib.tasks.gbm_met.sections import SECTION_SPACING_MM, inside_roi, is_axial_2d, plan_sections
from BrainTumorAILib.tasks.gbm_met.training import GbmMetAdapter
from BrainTumorAILib.training import load_config
from BrainTumorAILib.training.config import check_trainable
from conftest import rotation_matrix
from test_gbm_met import BlobDetector


def t2_geometry(direction, spacing, size=(60, 60, 30), origin=(80.0, 90.0, -60.0)) -> dict:
    return {"size": list(size), "spacing": list(spacing), "origin": list(origin),
            "direction": np.asarray(direction, float).ravel().tolist()}


def grid_points_lps(grid: sitk.Image) -> np.ndarray:
    k, j, i = np.indices(sitk.GetArrayViewFromImage(grid).shape)
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float)
    matrix = np.array(grid.GetDirection()).reshape(3, 3) * np.array(grid.GetSpacing())
    return (np.array(grid.GetOrigin()) + index @ matrix.T).reshape(*k.shape, 3)


# --- no frozen random backbone -------------------------------------------------------------

def test_shin2021_without_the_imagenet_file_is_refused_naming_the_fine_tune_preset():
    config = load_config("shin2021")
    with pytest.raises(InputError, match="shin2021-finetune"):
        check_trainable(config)
    with pytest.raises(InputError, match="pretrained"):
        GbmMetAdapter().build_model(config)
    check_trainable(load_config("shin2021-finetune"))  # trains every layer: allowed without the file


def test_train_command_stops_with_one_error_line(tmp_path):
    process = subprocess.run([sys.executable, "-m", "BrainTumorAILib", "train", "--task", "gbm-met",
                              "--data", str(tmp_path), "--out", str(tmp_path / "run")],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--preset shin2021-finetune" in lines[0]
    assert not (tmp_path / "run").exists()


def test_frozen_backbone_keeps_its_batch_norm_statistics_through_a_training_step():
    torch.manual_seed(0)
    model = build_slice_resnet50(widths=(8, 16, 32, 64))
    freeze_backbone(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()  # what the trainer does every epoch
    loss = torch.nn.functional.cross_entropy(model(torch.randn(6, 3, 32, 32) * 3 + 1), torch.tensor([0, 1] * 3))
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    backbone = [k for k in before if not k.startswith("fc.")]
    assert any("running_mean" in k for k in backbone)
    assert all(torch.equal(before[k], after[k]) for k in backbone)
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("fc."))


# --- axial sections ------------------------------------------------------------------------

SAGITTAL = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # slice normal along left-right


def test_a_sagittal_t2_gets_axial_sections_5_mm_apart_inside_the_rotated_roi():
    geometry = t2_geometry(SAGITTAL @ rotation_matrix(4, 3, -5), (0.9, 0.9, 4.0))
    assert not is_axial_2d(geometry)
    roi = BoxROI(np.array([-30.0, 10.0, 20.0]), rotation_matrix(20, -15, 30), np.array([40.0, 30.0, 36.0]))
    plan = plan_sections(roi, geometry, input_size=24)
    assert plan.normal_lps() == pytest.approx([0, 0, 1], abs=1e-9)  # along superior-inferior
    assert plan.grid.GetSpacing()[2] == pytest.approx(SECTION_SPACING_MM)
    centres = plan.centres_lps()
    assert np.diff(centres @ [0, 0, 1]) == pytest.approx(SECTION_SPACING_MM)
    extent = np.ptp(roi.corners_ras()[:, 2])
    assert abs(plan.n_sections - extent / SECTION_SPACING_MM) <= 1.5
    # every pixel the network sees lies inside the ROI as drawn, checked in physical space
    points = lps_to_ras(grid_points_lps(plan.grid).reshape(-1, 3))
    assert np.array_equal(roi.contains_ras(points).reshape(plan.inside.shape), plan.inside)
    assert plan.inside.any(axis=(1, 2)).all()


def test_an_axial_2d_t2_keeps_its_own_sections():
    direction = rotation_matrix(6, -4, 10)
    geometry = t2_geometry(direction, (0.9, 0.9, 5.5))
    assert is_axial_2d(geometry)
    roi = BoxROI(np.array([-30.0, 10.0, 20.0]), np.eye(3), np.array([40.0, 30.0, 30.0]))
    plan = plan_sections(roi, geometry, input_size=16)
    assert abs(plan.normal_lps() @ direction[:, 2]) == pytest.approx(1.0)
    # each section's plane is one of the T2's slice planes: a whole slice index
    t2 = sitk.Image(geometry["size"], sitk.sitkUInt8)
    t2.SetOrigin(geometry["origin"]), t2.SetSpacing(geometry["spacing"]), t2.SetDirection(geometry["direction"])
    k = [t2.TransformPhysicalPointToContinuousIndex(tuple(c))[2] for c in plan.centres_lps()]
    assert np.allclose(k, np.round(k), atol=1e-6)
    extent = np.ptp((roi.corners_ras() * [-1, -1, 1]) @ plan.normal_lps())  # the ROI's depth along the normal
    assert extent / 5.5 - 1 <= plan.n_sections <= extent / 5.5 + 1


def test_fixed_pixel_sections_keep_the_lesions_physical_size_centred_on_the_rotated_roi():
    geometry = t2_geometry(SAGITTAL @ rotation_matrix(4, 3, -5), (0.9, 0.9, 4.0))
    centre = np.array([-30.0, 10.0, 20.0])
    small = BoxROI(centre, rotation_matrix(0, 0, 30), np.array([30.0, 20.0, 24.0]))  # turned in the axial plane
    plan = plan_sections(small, geometry, input_size=64, pixel_mm=1.5)
    assert plan.grid.GetSpacing()[:2] == pytest.approx((1.5, 1.5))
    points = lps_to_ras(grid_points_lps(plan.grid).reshape(-1, 3)).reshape(*plan.inside.shape, 3)
    in_plane = points[:, :, :, :2].mean(axis=(1, 2))  # each section's centre, RAS x and y
    assert in_plane == pytest.approx(np.tile(centre[:2], (plan.n_sections, 1)), abs=1e-6)
    assert np.array_equal(small.contains_ras(points.reshape(-1, 3)).reshape(plan.inside.shape), plan.inside)
    assert not plan.inside[:, [0, -1], :].any() and not plan.inside[:, :, [0, -1]].any()  # margin left empty
    # the same box twice as wide covers about 4 times the pixels: the size is not scaled away
    large = BoxROI(centre, small.axes_ras, small.size_mm * [2, 2, 1])
    ratio = plan_sections(large, geometry, 64, pixel_mm=1.5).inside.sum() / plan.inside.sum()
    assert 3.5 < ratio < 4.5
    # a footprint wider than the grid is fitted to it, never cut
    huge = BoxROI(centre, small.axes_ras, small.size_mm * [4, 4, 1])
    fitted = plan_sections(huge, geometry, 64, pixel_mm=1.5)
    assert fitted.grid.GetSpacing()[0] > 1.5
    assert fitted.inside[:, [0, -1], :].any() or fitted.inside[:, :, [0, -1]].any()


# --- the CAM stays inside the ROI as drawn -------------------------------------------------

def test_cam_mass_lies_inside_a_rotated_roi_on_an_oblique_anisotropic_t2():
    direction = rotation_matrix(12, -9, 25)
    reference = sitk.Image((70, 70, 60), sitk.sitkFloat32)
    reference.SetDirection(tuple(direction.ravel())), reference.SetOrigin((10.0, -20.0, -30.0))
    points = lps_to_ras(grid_points_lps(reference).reshape(-1, 3))
    center = lps_to_ras(np.array(reference.TransformContinuousIndexToPhysicalPoint((35.0, 35.0, 30.0))))
    shape = sitk.GetArrayViewFromImage(reference).shape
    blob = (np.linalg.norm(points - center - [6, 0, 0], axis=1) < 7).reshape(shape)
    bright = (np.linalg.norm(points - center - [26, 4, 0], axis=1) < 7).reshape(shape)  # outside the ROI
    images = {}
    for name, array in {"t1ce": np.where(blob | bright, 5.0, 0.0), "t2": np.full(shape, 0.5)}.items():
        images[name] = sitk.GetImageFromArray(array.astype(np.float32))
        images[name].CopyInformation(reference)
    mask = sitk.GetImageFromArray(np.ones(shape, np.uint8))
    mask.CopyInformation(reference)
    roi = BoxROI(center, rotation_matrix(0, 0, 35), np.array([30.0, 22.0, 24.0]))
    t2 = t2_geometry(direction, (0.9, 0.9, 5.0), size=(70, 70, 12),
                     origin=reference.TransformContinuousIndexToPhysicalPoint((0.0, 0.0, 2.0)))
    result, cam = gbm_met.predict([BlobDetector()] * 2, images, mask, roi, 32, 0.55, torch.device("cpu"),
                                  t2_geometry=t2)
    assert result["sections"]["source"].startswith("the T2's own")
    values = sitk.GetArrayFromImage(cam)
    assert values.max() == pytest.approx(1.0)
    assert values[inside_roi(cam, roi) == 0].sum() == 0
    # and on the T2's own 5 mm grid, as `run` writes it
    t2_grid = sitk.Image(t2["size"], sitk.sitkFloat32)
    t2_grid.SetOrigin(t2["origin"]), t2_grid.SetSpacing(t2["spacing"]), t2_grid.SetDirection(t2["direction"])
    on_t2 = gbm_met.restrict_to_roi(sitk.Resample(cam, t2_grid), roi)
    mass = sitk.GetArrayFromImage(on_t2)
    assert mass.sum() > 0 and mass[inside_roi(on_t2, roi) == 0].sum() == 0


# --- cut-offs ------------------------------------------------------------------------------

def test_cut_off_source_comes_from_the_model_card(tmp_path):
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"cutoffs": {"predictive_index": {"value": 0.55, "how_chosen": "paper",
                                                                 "source": PAPER_SOURCE}}}))
    model_set = SimpleNamespace(card_path=card, card=lambda: json.loads(card.read_text()))
    assert cutoff_source(model_set) == "paper (Shin 2021)"


def test_a_fitted_cut_off_is_chosen_on_the_training_folds_only():
    truth = {"a": 1, "b": 1, "c": 0, "d": 0, "e": 1, "f": 0}
    folds = [{"validation_predictions": {"a": 0.9, "c": 0.3}}, {"validation_predictions": {"b": 0.7, "d": 0.6}}]
    per_fold, deployed, source = nested_cutoffs(folds, truth, "fitted")
    assert source == NESTED_SOURCE
    assert per_fold[0] == pytest.approx(0.9) and per_fold[1] == pytest.approx(0.7)
    assert 0.6 < deployed <= 0.9
    # the held-out indices are no argument; moving a validation index moves only its fold's cut-off
    folds[1]["validation_predictions"]["b"] = 0.95
    assert nested_cutoffs(folds, truth, "fitted")[0] == pytest.approx([0.9, 0.95])
    assert nested_cutoffs(folds, truth, "paper") == ([0.55, 0.55], 0.55, PAPER_SOURCE)
    one_class = [{"validation_predictions": {"a": 0.9}}, {"validation_predictions": {"b": 0.7}}]
    assert nested_cutoffs(one_class, truth, "fitted")[2].startswith(PAPER_SOURCE)  # nothing to fit: named


def test_held_out_figures_are_read_at_each_folds_own_cut_off(tmp_path):
    labels = {"a": "GBM", "b": "metastasis", "c": "GBM", "d": "metastasis",
              "x": "GBM", "y": "metastasis", "z": "GBM", "w": "metastasis"}
    cases = [SimpleNamespace(case_id=i, label=label) for i, label in labels.items()]
    # fold 0 holds out a, b, z, w and fits its cut-off on its validation patients x, y;
    # fold 1 holds out c, d, x, y and fits on z, w
    held_out = {"a": 0.5, "b": 0.4, "z": 0.6, "w": 0.3, "c": 0.9, "d": 0.8, "x": 0.95, "y": 0.5}
    folds = [{"test": ["a", "b", "z", "w"], "validation_predictions": {"x": {"predictive_index": 0.45},
                                                                       "y": {"predictive_index": 0.2}}},
             {"test": ["c", "d", "x", "y"], "validation_predictions": {"z": {"predictive_index": 0.85},
                                                                       "w": {"predictive_index": 0.7}}}]
    metrics = GbmMetAdapter().summarise_folds({k: {"predictive_index": v} for k, v in held_out.items()},
                                              cases, tmp_path, folds, SimpleNamespace(cutoff="fitted"))
    assert metrics["fold_cutoffs"] == pytest.approx([0.45, 0.85])
    assert metrics["at_chosen_cutoff"]["accuracy"] == 1.0  # every case right at its own fold's cut-off
    assert metrics["at_paper_cutoff"]["accuracy"] < 1.0    # 0.8 (d) is a GBM at 0.55
    assert metrics["cutoff_source"] == NESTED_SOURCE


# --- the ROI drawn wider or tighter in training ---------------------------------------------

def cached_case(cache_dir, crop_roi_scale) -> "Case":
    """One case already in the adapter's cache: 1 mm T1CE and T2 crops around a 40 x 30 x 20 mm ROI."""
    from BrainTumorAILib.training.cases import Case
    case = Case("case-1", "patient-1", "GBM", roi_ras=[-20.0, 20.0, -15.0, 15.0, -10.0, 10.0])
    image = sitk.GetImageFromArray(np.random.default_rng(0).normal(size=(40, 60, 70)).astype(np.float32))
    image.SetOrigin((35.0, 30.0, -20.0))  # LPS: covers the ROI grown by 1.3 on every side
    image.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    for name in ("t1ce", "t2"):
        sitk.WriteImage(image, str(cache_dir / f"case-1_{name}.nii.gz"))
    geometry = t2_geometry(np.eye(3), (1.0, 1.0, 5.0), origin=(35.0, 30.0, -20.0))
    (cache_dir / "case-1_t2_geometry.json").write_text(json.dumps({"t2_geometry": geometry,
                                                                   "crop_roi_scale": crop_roi_scale}))
    return case


def test_training_sections_see_the_roi_drawn_wider_and_tighter_validation_sections_do_not(tmp_path):
    from BrainTumorAILib.tasks.gbm_met.training import CROP_ROI_SCALE
    adapter = GbmMetAdapter()
    adapter.cache_dir = tmp_path
    case = cached_case(tmp_path, CROP_ROI_SCALE)
    config = load_config("shin2021-finetune")
    config.model.update({"input_size": 48, "section_pixel_mm": 1.5, "roi_scale_range": [0.8, 1.25]})
    def widths(sections):  # pixels across the ROI (left-right) on each section
        return (np.abs(sections[:, 1]) > 0).any(axis=1).sum(axis=1)

    [(_, plain, _)] = adapter._stacks([case], config, phases=1, train=False)
    assert widths(plain) == pytest.approx(40 / 1.5, abs=1)  # the ROI as drawn
    [(_, trained, _)] = adapter._stacks([case], config, phases=16, train=True)
    assert min(widths(trained)) < 40 / 1.5 - 2 and max(widths(trained)) > 40 / 1.5 + 2
    assert all(0.8 * 40 / 1.5 - 1 <= w <= 1.25 * 40 / 1.5 + 1 for w in widths(trained))
    [(_, again, _)] = adapter._stacks([case], config, phases=16, train=True)
    assert np.array_equal(trained, again)  # drawn from the seed and the case: a resumed run sees the same
    config.model["roi_scale_range"] = [0.8, CROP_ROI_SCALE + 0.1]  # wider than the cached crop holds
    with pytest.raises(InputError, match="roi_scale_range"):
        adapter._stacks([case], config, phases=1, train=True)


def test_a_cache_made_with_another_crop_is_prepared_again(tmp_path):
    from BrainTumorAILib.tasks.gbm_met.training import CROP_ROI_SCALE
    adapter = GbmMetAdapter()
    adapter.cache_dir = tmp_path
    assert adapter._cached(cached_case(tmp_path, CROP_ROI_SCALE))
    assert not adapter._cached(cached_case(tmp_path, 1.0))
