"""Input quality checks (BrainTumorAILib.quality) on small synthetic tissue volumes with known truth."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from scipy.ndimage import gaussian_filter

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.quality import QualityView, default_thresholds, load_thresholds, statistics_ranges, worst
from BrainTumorAILib.quality.coregistration import coregistration_checks
from BrainTumorAILib.quality.coverage import coverage_checks
from BrainTumorAILib.quality.distribution import distribution_checks, intensity_statistics
from BrainTumorAILib.quality.labels import label_checks
from BrainTumorAILib.quality.resolution import resolution_checks
from conftest import make_image

SHAPE = (40, 48, 48)
# relative signal of white matter, grey matter and CSF (as the synthetic generator's contrasts)
CONTRASTS = {"t1ce": (1.0, 0.68, 0.22), "t1": (1.0, 0.65, 0.22), "t2": (0.45, 0.62, 1.45), "flair": (0.55, 0.78, 0.10)}

THRESHOLDS = default_thresholds()


def tissues(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A brain-like ellipsoid of white matter, grey matter and CSF in folds inside a scalp, in air;
    (labels: 0 wm, 1 gm, 2 csf, 3 scalp, -1 air; brain)."""
    z, y, x = np.indices(SHAPE)
    radius = ((z - 20) / 15) ** 2 + ((y - 24) / 19) ** 2 + ((x - 24) / 19) ** 2
    brain, head = radius < 1, radius < 1.3
    field = gaussian_filter(np.random.default_rng(seed).normal(size=SHAPE), 2.0)
    labels = np.where(field > 0.04, 1, 0) + np.where(field < -0.06, 2, 0)
    return np.where(brain, labels, np.where(head, 3, -1)), brain


def render(labels: np.ndarray, contrast: str, seed: int) -> np.ndarray:
    values = np.select([labels == 0, labels == 1, labels == 2, labels == 3], (*CONTRASTS[contrast], 0.6), 0.02)
    image = gaussian_filter(values, 0.7) + np.random.default_rng(seed).normal(0, 0.02, SHAPE)
    inside = (labels >= 0) & (labels < 3)
    return ((image - image[inside].mean()) / image[inside].std()).astype(np.float32)


def view_of(sequences: dict[str, np.ndarray], brain: np.ndarray, fov: dict | None = None) -> QualityView:
    fov = fov or {}
    return QualityView(reference="t1ce", images=sequences, brain=brain,
                       field_of_view={name: fov.get(name, np.ones(SHAPE, bool)) for name in sequences},
                       spacing_mm=2.0)


@pytest.fixture(scope="module")
def head():
    labels, brain = tissues(seed=1)
    return labels, brain, {name: render(labels, name, seed=i) for i, name in enumerate(CONTRASTS)}


def test_the_same_head_passes_every_sequence_check(head):
    _, brain, images = head
    view = view_of(images, brain)
    for found in (coregistration_checks(view, THRESHOLDS), label_checks(view, THRESHOLDS),
                  coverage_checks(view, THRESHOLDS)):
        for name, records in found.items():
            assert all(r["status"] == "ok" for r in records.values()), (name, records)


def test_another_heads_t2_fails_coregistration(head):
    _, brain, images = head
    other_labels, _ = tissues(seed=2)  # the same outline, other folds: another head's anatomy inside
    view = view_of({**images, "t2": render(other_labels, "t2", seed=9)}, brain)
    record = coregistration_checks(view, THRESHOLDS)["t2"]["coregistration"]
    assert record["status"] == "failed" and "unlikely to be the same head" in record["message"]
    assert record["value"] < THRESHOLDS["coregistration_correlation"]["failed_below"]


def test_a_noise_cube_as_t2_covers_little_of_the_brain_and_fails(head):
    _, brain, images = head
    cube = np.zeros(SHAPE, bool)
    cube[12:28, 16:32, 16:32] = True  # 32 mm at 2 mm voxels
    noise = np.where(cube, np.random.default_rng(3).uniform(-2, 2, SHAPE), 0).astype(np.float32)
    view = view_of({**images, "t2": noise}, brain, fov={"t2": cube})
    coverage = coverage_checks(view, THRESHOLDS)["t2"]["brain_coverage"]
    assert coverage["status"] == "failed" and coverage["value"] < 0.2
    assert coregistration_checks(view, THRESHOLDS)["t2"]["coregistration"]["status"] == "failed"


@pytest.mark.parametrize("impostor", ["t2", "flair"])
def test_a_t2_or_flair_called_t1ce_is_flagged(head, impostor):
    labels, brain, images = head
    view = view_of({**images, "t1ce": render(labels, impostor, seed=5)}, brain)
    record = label_checks(view, THRESHOLDS)["t1ce"]["contrast"]
    assert record["status"] == "warning" and "does not look T1-weighted" in record["message"]


def test_a_t2_called_flair_is_flagged(head):
    labels, brain, images = head
    view = view_of({**images, "flair": render(labels, "t2", seed=6)}, brain)
    record = label_checks(view, THRESHOLDS)["flair"]["contrast"]
    assert record["status"] == "warning" and "does not look FLAIR" in record["message"]


def test_a_head_on_a_10_mm_grid_makes_every_task_unreliable():
    images = {name: make_image(size=(24, 24, 18), spacing=(10.0, 10.0, 10.0)) for name in ("t1ce", "t2", "flair")}
    for task in THRESHOLDS["resolution_mm"]:
        records = resolution_checks(task, images, THRESHOLDS)
        assert records and worst(r["status"] for r in records.values()) == "unreliable", task
        assert any("coarser than" in r["message"] for r in records.values())


def test_thick_slices_are_judged_per_task_on_an_oblique_grid():
    t1ce = make_image(spacing=(0.9, 0.9, 5.0))  # oblique, anisotropic
    assert resolution_checks("gbm-met", {"t1ce": t1ce}, THRESHOLDS)["t1ce_slice_mm"]["status"] == "ok"
    record = resolution_checks("mets-3d", {"t1ce": t1ce}, THRESHOLDS)["t1ce_slice_mm"]
    assert record["status"] == "unreliable" and record["value"] == 5.0 and record["threshold"] == 2.0


def test_intensities_outside_the_training_ranges_are_flagged(head):
    labels, brain, images = head
    reference = statistics_ranges([{"t1ce": intensity_statistics(view_of({**images, "t1ce": render(labels, "t1ce", s)},
                                                                         brain), "t1ce")} for s in range(3)])
    assert reference["n_cases"] == 3 and set(reference["sequences"]["t1ce"]) >= {"p1", "p50", "p99"}
    same = distribution_checks(view_of(images, brain), ["t1ce"], reference, THRESHOLDS)
    assert same["t1ce_intensities"]["status"] == "ok"
    noise = np.random.default_rng(4).normal(size=SHAPE).astype(np.float32) ** 3  # heavy-tailed, not a brain
    noise = (noise - noise[brain].mean()) / noise[brain].std()
    flagged = distribution_checks(view_of({**images, "t1ce": noise}, brain), ["t1ce"], reference, THRESHOLDS)
    assert flagged["t1ce_intensities"]["status"] in ("warning", "unreliable")
    assert distribution_checks(view_of(images, brain), ["t1ce"], None, THRESHOLDS) == {}


def test_thresholds_are_overridden_from_a_file_and_unknown_keys_refused(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"brain_coverage": {"failed_below": 0.5},
                                "resolution_mm": {"mets-3d": {"t1ce": {"slice": 6}}}}))
    thresholds = load_thresholds(path)
    assert thresholds["brain_coverage"] == {"warning_below": 0.95, "failed_below": 0.5}
    assert thresholds["resolution_mm"]["mets-3d"]["t1ce"] == {"slice": 6.0, "in_plane": 1.5}
    assert THRESHOLDS["brain_coverage"]["failed_below"] == 0.8  # defaults untouched
    path.write_text(json.dumps({"brain_coverag": {}}))
    with pytest.raises(InputError, match="unknown key 'brain_coverag'"):
        load_thresholds(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_thresholds(path)
