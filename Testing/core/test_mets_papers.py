"""The metastasis presets as their papers ran them (Grøvik 2020: 28 channels, one network, no
minimum lesion size; Jünger 2021: 3 mm^3), the >= 10 mm^3 false-positive figure, the cross-method
check in physical space, and the hard negatives of the phantoms."""

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.metrics import detect_lesions
from BrainTumorAILib.tasks.mets_25d import pipeline as mets_25d_task
from BrainTumorAILib.tasks.metastases.cross_method import AGREED, AGREED_IMAGE, FLAG, cross_check, partners
from BrainTumorAILib.tasks.mets_25d.training import Mets25dAdapter, min_lesion_mm3
from BrainTumorAILib.tasks.mets_3d.training import preprocessing_settings as junger_settings
from BrainTumorAILib.tasks.metastases.common import min_lesion_of
from BrainTumorAILib.tasks.metastases.evaluation import _figures
from BrainTumorAILib.training import load_config
from conftest import rotation_matrix


class _Case:
    def __init__(self, sequences):
        self.sequences = {name: f"{name}.nii.gz" for name in sequences}


def test_grovik2020_takes_four_sequences_as_28_channels_and_names_what_the_cases_lack():
    config = load_config("grovik2020")
    adapter = Mets25dAdapter()
    assert adapter.architecture(config)["config"]["in_channels"] == 28
    # cases without T1 and T2: the network takes what every case has, the rest is named
    adapter.available = set.intersection(*(set(_Case(s).sequences) for s in (["t1ce", "flair", "t2"],
                                                                              ["t1ce", "flair"])))
    assert adapter.inputs(config) == ["t1ce", "flair"]
    assert adapter.missing_inputs(config) == ["t1", "t2"]
    assert adapter.architecture(config)["config"]["in_channels"] == 14
    record = mets_25d_task.channel_record(["t1ce", "flair"], 3)
    assert record == {"inputs": ["t1ce", "flair"], "channels": 14, "sequences_not_used": ["t1", "t2"]}
    assert mets_25d_task.channel_record(["t1ce", "t1", "flair", "t2"], 3)["sequences_not_used"] == []


def test_grovik2020_deploys_one_network_and_keeps_every_lesion_size():
    config = load_config("grovik2020")
    adapter = Mets25dAdapter()
    assert adapter.deploys_single_network(config)
    entry = adapter.model_set_entry(config)["preprocessing"]
    assert entry["ensemble"] == "single" and entry["min_lesion_mm3"] == 0.0 == min_lesion_mm3(config)
    # Jünger 2021's 3 mm^3 stays with mets-3d; sets made before the entry existed keep it too
    assert junger_settings(load_config("junger2021"))["min_lesion_mm3"] == 3.0
    stub = type("Set", (), {"preprocessing": entry})()
    assert min_lesion_of(stub) == 0.0
    assert min_lesion_of(type("Set", (), {"preprocessing": {}})()) == 3.0


def test_false_positives_are_also_counted_from_10_mm3():
    spacing = (3.0, 1.0, 1.0)  # z, y, x mm: anisotropic, a voxel is 3 mm^3
    truth = np.zeros((10, 30, 30), bool)
    truth[2:4, 2:6, 2:6] = True
    found = truth.copy()
    found[7, 20, 20] = True                # 3 mm^3 false positive
    found[6:8, 10:13, 20:22] = True        # 2 x 3 x 2 voxels = 36 mm^3 false positive
    detection = detect_lesions(found, truth, spacing, case_id="c")
    figures = _figures([detection])
    assert figures["false_positives_per_case"] == 2
    assert figures["false_positives_ge_10mm3_per_case"] == 1
    assert figures["sensitivity"] == 1.0


def _oblique(size, spacing, angles, centre=(0.0, 0.0, 10.0)):
    """An oblique anisotropic grid whose middle is at `centre` (LPS mm)."""
    direction = rotation_matrix(*angles)
    image = sitk.Image(list(size), sitk.sitkUInt8)
    image.SetSpacing(spacing)
    image.SetDirection(tuple(direction.ravel()))
    image.SetOrigin(tuple(np.array(centre) - direction @ ((np.array(size) - 1) * spacing / 2)))
    return image


def _spheres(grid, spheres):
    """uint8 labels 1.. of spheres (centre LPS, radius mm) on `grid`, in physical space."""
    k, j, i = np.indices(sitk.GetArrayViewFromImage(grid).shape)
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1) * np.array(grid.GetSpacing())
    points = np.array(grid.GetOrigin()) + index @ np.array(grid.GetDirection()).reshape(3, 3).T
    labels = np.zeros(len(points), np.uint8)
    for number, (centre, radius) in enumerate(spheres, start=1):
        labels[np.linalg.norm(points - centre, axis=1) <= radius] = number
    image = sitk.GetImageFromArray(labels.reshape(sitk.GetArrayViewFromImage(grid).shape))
    image.CopyInformation(grid)
    return image


def test_cross_method_flags_and_agreed_list_in_physical_space():
    # mets-3d on an oblique anisotropic grid, mets-25d on another: the same physical lesion A,
    # one lesion each that the other method misses
    a, only_3d, only_25d = np.array([5.0, 8.0, 12.0]), np.array([-18.0, 6.0, 8.0]), np.array([16.0, -14.0, 10.0])
    grid_3d = _oblique((90, 80, 30), (0.7, 0.8, 2.5), (20, -10, 30))
    grid_25d = _oblique((64, 76, 70), (1.1, 0.9, 1.0), (-15, 25, -5))
    seg_3d = _spheres(grid_3d, [(a, 5.0), (only_3d, 3.5)])
    seg_25d = _spheres(grid_25d, [(only_25d, 4.0), (a + [0.8, -0.5, 0.6], 4.5)])
    assert partners(seg_3d, seg_25d) == {1: [2], 2: []}
    assert partners(seg_25d, seg_3d) == {1: [], 2: [1]}
    result = {"tasks": {"mets-3d": {"lesions": [{"id": 1}, {"id": 2}]},
                        "mets-25d": {"lesions": [{"id": 1}, {"id": 2}]}}}
    rows = [{"task": "mets-3d", "id": 1}, {"task": "mets-3d", "id": 2},
            {"task": "mets-25d", "id": 1}, {"task": "mets-25d", "id": 2}]
    images = {"mets-3d_seg.nii.gz": seg_3d, "mets-25d_seg.nii.gz": seg_25d}
    cross_check(result, images, rows)
    assert [r[FLAG] for r in result["tasks"]["mets-3d"]["lesions"]] == [True, False]
    assert [r[FLAG] for r in result["tasks"]["mets-25d"]["lesions"]] == [False, True]
    assert [r[FLAG] for r in rows] == [True, False, False, True]
    agreed = result[AGREED]
    assert agreed["n_lesions"] == 1 and agreed["lesions"][0]["mets-3d_id"] == 1
    assert agreed["lesions"][0]["mets-25d_ids"] == [2]
    ras = agreed["lesions"][0]["centroid_ras"]
    assert np.allclose(ras, a * [-1, -1, 1], atol=1.0)  # the agreed lesion is A, in RAS
    agreed_image = images[AGREED_IMAGE]
    assert agreed_image.GetDirection() == seg_3d.GetDirection()
    assert set(np.unique(sitk.GetArrayViewFromImage(agreed_image))) == {0, 1}


def test_cross_method_check_needs_both_tasks():
    result = {"tasks": {"mets-3d": {"lesions": [{"id": 1}]}}}
    cross_check(result, {"mets-3d_seg.nii.gz": sitk.Image([4, 4, 4], sitk.sitkUInt8)}, [])
    assert AGREED not in result and FLAG not in result["tasks"]["mets-3d"]["lesions"][0]


@pytest.fixture(scope="module")
def template():
    from BrainTumorAILib.synthetic.template import template_anatomy

    return template_anatomy(3.0)


def test_phantoms_carry_enhancing_hard_negatives(template, tmp_path):
    from BrainTumorAILib.synthetic.hard_negatives import cortical_veins
    from BrainTumorAILib.synthetic.template import _lps_grid_ras

    x, y, z = _lps_grid_ras(template.shape, template.origin, template.spacing)
    x, y, z = (np.broadcast_to(v, template.shape) for v in (x, y, z))
    falx = template.dura > 0.5
    assert falx.any() and np.all(np.abs(x[falx & (z > 20)]) < 3.0)  # on the midline above the ventricles
    assert (template.dura[(y < -50) & (z < -5) & (np.abs(x) > 15)] > 0.5).any()  # tentorium
    veins = template.deep_veins > 0.5
    assert veins.any() and np.all(np.abs(x[veins]) < 25.0)
    rng = np.random.default_rng(3)
    cortical = cortical_veins(rng, template)
    assert (cortical > 0.5).sum() > 10
    near_surface = template.dist_in[cortical > 0.5]
    assert np.median(near_surface) < 8.0  # on and just under the cortex


def test_hard_negatives_enhance_on_t1ce_and_stay_dark_on_flair(tmp_path):
    from BrainTumorAILib.synthetic import make_case
    from BrainTumorAILib.synthetic.head import make_head
    from BrainTumorAILib.synthetic.contrast import tissue_intensities
    from BrainTumorAILib.synthetic.template import template_anatomy

    template = template_anatomy(3.0)
    rng = np.random.default_rng(11)
    head = make_head(template, rng)
    intensity = tissue_intensities(rng)
    t1ce, flair = head.base_image(intensity["t1ce"]), head.base_image(intensity["flair"])
    for structure in (template.dura, template.deep_veins, head.veins):
        assert structure.max() > 0.5
        inside = structure >= 0.9 * structure.max()  # a 1.6 mm sheet fills at most ~0.8 of a 3 mm voxel
        assert np.median(t1ce[inside]) > intensity["t1ce"]["wm"]      # brighter than white matter on T1CE
        assert np.median(flair[inside]) < intensity["flair"]["wm"]    # darker than white matter on FLAIR
    folder = make_case(tmp_path, "healthy", 5, voxel_mm=3.0)
    assert (folder / "t1ce.nii.gz").is_file()


def test_run_all_skips_a_task_whose_model_set_needs_a_sequence_not_given():
    from BrainTumorAILib.runner import select_tasks

    class Registry:  # mets-3d's installed set reads T1CE and FLAIR (its task needs only T1CE)
        def model_sets(self, task):
            return [task] if task in ("mets-3d", "tumour-type") else []

        def default_for(self, task):
            return type("Set", (), {"inputs": ["t1ce", "flair"] if task == "mets-3d" else ["t1ce"]})()

    chosen, notes = select_tasks("all", {"t1ce": object(), "t2": object()}, None, Registry())
    assert [spec.name for spec in chosen] == ["tumour-type"]
    assert "mets-3d skipped: needs flair" in notes
    chosen, _ = select_tasks("all", {"t1ce": object(), "flair": object()}, None, Registry())
    assert [spec.name for spec in chosen] == ["mets-3d", "tumour-type"]
