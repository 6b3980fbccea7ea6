"""Synthetic heads: files, determinism, physical-space truth, transforms, ROI, volumes, contrasts.

Coarse phantoms (voxel_mm 2-3) keep the file fast; the generator is the same at 1 mm.
"""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import lps_to_ras, ras_to_lps
from BrainTumorAILib.synthetic import (
    GBM_MET_LABEL_OF_KIND, KINDS, TUMOUR_TYPE_OF_KIND, load_truth, make_case, make_cohort, true_transform,
)

SEQUENCES = ("t1", "t1ce", "t2", "flair")
TRUTH_FILES = ("seg_t1ce", "seg_t2", "lesions_t1ce", "brain_t1ce", "brain_t2")
COHORT_SEED = 3


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """One case of every kind at 3 mm: {kind: case folder}."""
    folders = make_cohort(tmp_path_factory.mktemp("cohort"), None, n_per_kind=1, seed=COHORT_SEED, voxel_mm=3.0)
    return {load_truth(folder)["kind"]: folder for folder in folders}


@pytest.fixture(scope="module")
def fine_cases(tmp_path_factory):
    """GBM, solitary metastasis, LGG and healthy at 2 mm, for signal and geometry checks."""
    out = tmp_path_factory.mktemp("fine")
    return {kind: make_case(out, kind, seed=11, voxel_mm=2.0) for kind in ("gbm", "metastasis", "lgg", "healthy")}


def read(folder, name):
    path = folder / f"{name}.nii.gz" if name in SEQUENCES else folder / "truth" / f"{name}.nii.gz"
    return sitk.ReadImage(str(path))


def array(image):
    return sitk.GetArrayFromImage(image)


def world_ras_to_sequence_lps(truth, sequence, points_ras):
    """Points given in truth.json (world RAS) as physical LPS points of a sequence's input."""
    matrix = np.asarray(truth["world_to_sequence"][sequence])
    return ras_to_lps(points_ras) @ matrix[:3, :3].T + matrix[:3, 3]


def voxel_points_lps(image, mask):
    """Physical LPS points of the voxels selected by a (z, y, x) mask."""
    k, j, i = np.nonzero(mask)
    index = np.stack([i, j, k], axis=1).astype(float)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    return np.array(image.GetOrigin()) + (index * image.GetSpacing()) @ direction.T


def value_at(image, point_lps):
    index = np.rint(image.TransformPhysicalPointToContinuousIndex([float(v) for v in point_lps])).astype(int)
    if np.any(index < 0) or np.any(index >= image.GetSize()):
        return None
    return image.GetPixel(*[int(v) for v in index])


def resample_onto(moving_image, reference_image, truth, reference, moving):
    """Nearest-neighbour resampling of a moving sequence's map onto the reference's grid."""
    matrix = true_transform(truth, reference, moving)
    transform = sitk.AffineTransform(matrix[:3, :3].ravel().tolist(), matrix[:3, 3].tolist())
    return sitk.Resample(moving_image, reference_image, transform, sitk.sitkNearestNeighbor, 0)


def dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_kind_tables_cover_every_kind():
    assert set(TUMOUR_TYPE_OF_KIND) == set(KINDS)
    assert set(TUMOUR_TYPE_OF_KIND.values()) == {
        "hgg", "lgg", "metastasis", "meningioma", "pituitary", "schwannoma", "healthy"}
    assert GBM_MET_LABEL_OF_KIND == {"gbm": "GBM", "metastasis": "metastasis"}


def test_every_kind_writes_its_files_and_truth(cohort):
    assert set(cohort) == set(KINDS)
    for kind, folder in cohort.items():
        truth = load_truth(folder)
        assert folder.name == truth["case_id"] == f"synth-{kind}-{COHORT_SEED:04d}"
        assert truth["tumour_type"] == TUMOUR_TYPE_OF_KIND[kind]
        assert truth["gbm_met_label"] == GBM_MET_LABEL_OF_KIND.get(kind)
        assert truth["voxel_mm"] == 3.0 and truth["generator_version"]
        for sequence in SEQUENCES:
            assert read(folder, sequence).GetPixelID() == sitk.sitkInt16
        seg, lesions = array(read(folder, "seg_t1ce")), array(read(folder, "lesions_t1ce"))
        assert seg.dtype == np.uint8 and lesions.dtype == np.uint16
        assert set(np.unique(seg)) <= {0, 1, 2, 3}
        assert set(np.unique(array(read(folder, "seg_t2")))) <= {0, 1, 2, 3}
        for mask in ("brain_t1ce", "brain_t2"):
            assert set(np.unique(array(read(folder, mask)))) == {0, 1}
        table = truth["lesions"]
        expected = {"healthy": range(0, 1), "metastases": range(2, 9)}.get(kind, range(1, 2))
        assert len(table) in expected
        assert sorted(np.unique(lesions[lesions > 0]).tolist()) == [lesion["id"] for lesion in table]
        assert (truth["roi_ras"] is None) == (kind == "healthy")
        for lesion in table:
            assert lesion["enhancement"] in ("ring", "solid", "none")
            assert lesion["location"] in ("supratentorial", "infratentorial")
            assert lesion["kind"] == {"gbm": "gbm", "metastases": "metastasis"}.get(kind, kind)


def test_lesion_signs_follow_the_kind(cohort):
    tables = {kind: load_truth(folder)["lesions"] for kind, folder in cohort.items()}
    assert tables["gbm"][0]["enhancement"] == "ring" and tables["gbm"][0]["diameter_mm"] > 25
    assert tables["lgg"][0]["enhancement"] == "none"
    assert tables["schwannoma"][0]["location"] == "infratentorial"
    assert all(2.0 <= lesion["diameter_mm"] <= 45.0 for lesion in tables["metastases"])
    seg = array(read(cohort["lgg"], "seg_t1ce"))
    assert not np.any(seg == 3) and not np.any(seg == 2)  # non-enhancing, no oedema beyond


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    first = make_case(tmp_path / "a", "metastases", seed=5, voxel_mm=3.0)
    again = make_case(tmp_path / "b", "metastases", seed=5, voxel_mm=3.0)
    other = make_case(tmp_path / "c", "metastases", seed=6, voxel_mm=3.0)
    assert json.loads((first / "truth.json").read_text()) == json.loads((again / "truth.json").read_text())
    for name in SEQUENCES + TRUTH_FILES:
        a, b = read(first, name), read(again, name)
        assert np.array_equal(array(a), array(b)), name
        assert a.GetDirection() == b.GetDirection() and a.GetOrigin() == b.GetOrigin()
    assert load_truth(other)["lesions"] != load_truth(first)["lesions"]
    image, other_image = array(read(first, "t1ce")), array(read(other, "t1ce"))
    assert image.shape != other_image.shape or not np.array_equal(image, other_image)


def test_make_cohort_derives_case_seeds_and_checks_kinds(tmp_path):
    folders = make_cohort(tmp_path, ["healthy"], n_per_kind=2, seed=4, voxel_mm=3.0)
    assert [folder.name for folder in folders] == ["synth-healthy-0008", "synth-healthy-0009"]
    with pytest.raises(ValueError, match="unknown kind"):
        make_cohort(tmp_path, ["glioma"], n_per_kind=1, seed=0, voxel_mm=3.0)
    with pytest.raises(ValueError, match="unknown kind"):
        make_case(tmp_path, "glioma", seed=0, voxel_mm=3.0)


def test_a_cohort_made_in_two_processes_is_the_same_cohort(tmp_path):
    variants = [None, {"t1ce": "sagittal_3d"}]
    one = make_cohort(tmp_path / "one", ["metastasis", "healthy"], n_per_kind=2, seed=5, voxel_mm=4.0,
                      variants=variants)
    two = make_cohort(tmp_path / "two", ["metastasis", "healthy"], n_per_kind=2, seed=5, voxel_mm=4.0,
                      variants=variants, workers=2)
    assert [folder.name for folder in one] == [folder.name for folder in two]
    for a, b in zip(one, two):
        assert load_truth(a)["lesions"] == load_truth(b)["lesions"]
        assert np.array_equal(array(read(a, "t1ce")), array(read(b, "t1ce")))


def test_acquisitions_are_oblique_anisotropic_and_described_in_the_truth(cohort):
    truth = load_truth(cohort["gbm"])
    for sequence in SEQUENCES:
        image, record = read(cohort["gbm"], sequence), truth["sequences"][sequence]
        spacing, direction = np.array(image.GetSpacing()), np.array(image.GetDirection()).reshape(3, 3)
        assert np.allclose(spacing, record["spacing"], atol=1e-4)
        assert np.allclose(direction.ravel(), record["direction"], atol=1e-5)
        assert np.allclose(direction @ direction.T, np.eye(3), atol=1e-5)
        assert not np.allclose(direction, np.eye(3), atol=1e-3)  # oblique
        if sequence in ("t2", "flair"):
            assert spacing[2] >= 2.5 * spacing[0]
        else:
            assert spacing[2] <= 1.25 * spacing[0]
        pose = np.asarray(truth["world_to_sequence"][sequence])
        angle = np.degrees(np.arccos(np.clip((np.trace(pose[:3, :3]) - 1) / 2, -1, 1)))
        assert angle <= 10.0 + 1e-6 and np.linalg.norm(pose[:3, 3]) <= 15.0 + 1e-6
    assert not np.allclose(truth["world_to_sequence"]["t1ce"], truth["world_to_sequence"]["t2"])


def test_lesion_centres_land_in_their_labelled_mass_in_every_truth_geometry(cohort, fine_cases):
    for folder in list(cohort.values()) + list(fine_cases.values()):
        truth = load_truth(folder)
        lesions_t1ce = read(folder, "lesions_t1ce")
        for lesion in truth["lesions"]:
            for sequence in ("t1ce", "t2"):
                seg = read(folder, f"seg_{sequence}")
                if lesion["diameter_mm"] < 2.5 * max(seg.GetSpacing()):
                    continue  # too small for its centre to be a voxel of a thick slice
                point = world_ras_to_sequence_lps(truth, sequence, lesion["center_ras"])
                assert value_at(seg, point) in (1, 3), (folder.name, lesion["id"], sequence)
                if sequence == "t1ce":
                    assert value_at(lesions_t1ce, point) == lesion["id"]


def test_true_transform_is_consistent_and_aligns_the_sequences(fine_cases):
    folder = fine_cases["gbm"]
    truth = load_truth(folder)
    assert np.allclose(true_transform(truth, "t2", "t2"), np.eye(4))
    composed = true_transform(truth, "t1", "flair") @ true_transform(truth, "t2", "t1")
    assert np.allclose(composed, true_transform(truth, "t2", "flair"))
    assert np.allclose(true_transform(truth, "t1ce", "t2") @ true_transform(truth, "t2", "t1ce"), np.eye(4))
    with pytest.raises(InputError, match="dwi"):
        true_transform(truth, "t2", "dwi")

    # The matrix takes T2 (reference) points to T1CE (moving) points: resampling the T1CE
    # truth through it overlays the T2 truth, and ignoring it does not.
    brain_t2, brain_t1ce = read(folder, "brain_t2"), read(folder, "brain_t1ce")
    aligned = array(resample_onto(brain_t1ce, brain_t2, truth, "t2", "t1ce")) > 0
    unaligned = array(sitk.Resample(brain_t1ce, brain_t2, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) > 0
    assert dice(aligned, array(brain_t2) > 0) > 0.93
    assert dice(unaligned, array(brain_t2) > 0) < dice(aligned, array(brain_t2) > 0) - 0.03
    mass_t2 = np.isin(array(read(folder, "seg_t2")), (1, 3))
    mass_t1ce = array(resample_onto(read(folder, "seg_t1ce"), brain_t2, truth, "t2", "t1ce"))
    assert dice(np.isin(mass_t1ce, (1, 3)), mass_t2) > 0.8


def test_roi_holds_the_mass_and_the_peritumoral_zone(cohort, fine_cases):
    for folder in [cohort["gbm"], cohort["meningioma"], fine_cases["metastasis"], fine_cases["gbm"]]:
        truth = load_truth(folder)
        for sequence in ("t1ce", "t2"):
            seg = read(folder, f"seg_{sequence}")
            box = np.array(truth["roi_ras_by_sequence"][sequence]).reshape(3, 2)
            tolerance = max(seg.GetSpacing())  # voxel centres vs the truth's finer patches
            points = lps_to_ras(voxel_points_lps(seg, array(seg) > 0))
            assert np.all(points >= box[:, 0] - tolerance) and np.all(points <= box[:, 1] + tolerance)
            assert np.any(array(seg) == 2) or truth["kind"] == "meningioma"
        world_box = np.array(truth["roi_ras"]).reshape(3, 2)
        centre = np.array(truth["lesions"][0]["center_ras"])
        assert np.all(centre > world_box[:, 0]) and np.all(centre < world_box[:, 1])
    assert load_truth(cohort["healthy"])["roi_ras_by_sequence"] is None


def test_multiple_metastases_roi_surrounds_the_largest(cohort):
    truth = load_truth(cohort["metastases"])
    largest = max(truth["lesions"], key=lambda lesion: lesion["volume_mm3"])
    box = np.array(truth["roi_ras"]).reshape(3, 2)
    assert np.all(np.array(largest["center_ras"]) > box[:, 0]) and np.all(np.array(largest["center_ras"]) < box[:, 1])


def test_lesion_volumes_are_the_voxel_counts(cohort, fine_cases):
    for folder in list(cohort.values()) + list(fine_cases.values()):
        truth = load_truth(folder)
        lesions = read(folder, "lesions_t1ce")
        ids = array(lesions)
        voxel = float(np.prod(lesions.GetSpacing()))
        for lesion in truth["lesions"]:
            assert lesion["volume_mm3"] == pytest.approx(np.count_nonzero(ids == lesion["id"]) * voxel, rel=1e-3)
    # The same mass measured on the thick-slice T2 grid agrees in physical volume.
    folder = fine_cases["gbm"]
    seg_t2 = read(folder, "seg_t2")
    t2_volume = np.count_nonzero(np.isin(array(seg_t2), (1, 3))) * np.prod(seg_t2.GetSpacing())
    assert t2_volume == pytest.approx(load_truth(folder)["lesions"][0]["volume_mm3"], rel=0.15)


def test_contrasts_show_the_imaging_signs(fine_cases):
    gbm = fine_cases["gbm"]
    truth = load_truth(gbm)
    t1ce, seg_t1ce = array(read(gbm, "t1ce")).astype(float), array(read(gbm, "seg_t1ce"))
    normal_t1ce = t1ce[(array(read(gbm, "brain_t1ce")) > 0) & (seg_t1ce == 0)]
    # Enhancing rim: brighter on T1CE than most normal brain (white matter is its bright half).
    assert t1ce[seg_t1ce == 3].mean() > np.percentile(normal_t1ce, 75) * 1.15
    # Necrosis: darker than normal brain on T1CE.
    assert t1ce[seg_t1ce == 1].mean() < np.median(normal_t1ce)
    # Peritumoral zone: brighter on FLAIR and T2 than normal brain (labels mapped onto FLAIR).
    flair = read(gbm, "flair")
    seg_on_flair = array(resample_onto(read(gbm, "seg_t2"), flair, truth, "flair", "t2"))
    brain_on_flair = array(resample_onto(read(gbm, "brain_t2"), flair, truth, "flair", "t2")) > 0
    flair = array(flair).astype(float)
    assert flair[seg_on_flair == 2].mean() > 1.2 * np.median(flair[brain_on_flair & (seg_on_flair == 0)])
    t2, seg_t2 = array(read(gbm, "t2")).astype(float), array(read(gbm, "seg_t2"))
    normal_t2 = t2[(array(read(gbm, "brain_t2")) > 0) & (seg_t2 == 0)]
    assert t2[seg_t2 == 2].mean() > np.median(normal_t2)
    # Low-grade glioma: dark on T1, bright on T2.
    lgg = fine_cases["lgg"]
    seg_lgg = array(read(lgg, "seg_t2"))
    t2_lgg = array(read(lgg, "t2")).astype(float)
    assert t2_lgg[seg_lgg == 1].mean() > np.median(t2_lgg[(array(read(lgg, "brain_t2")) > 0) & (seg_lgg == 0)])


def test_healthy_t1ce_has_enhancing_anatomy(fine_cases):
    """Vessels, choroid plexus and sinuses are bright on T1CE: brightness alone is no lesion."""
    healthy = fine_cases["healthy"]
    t1ce = array(read(healthy, "t1ce")).astype(float)
    brain = array(read(healthy, "brain_t1ce")) > 0
    assert not np.any(array(read(healthy, "seg_t1ce")))
    bright = t1ce[brain] > 1.3 * np.percentile(t1ce[brain], 75)  # as bright as an enhancing rim
    assert np.count_nonzero(bright) >= 50


def test_intensity_scale_differs_between_sequences_and_cases(cohort):
    medians = [np.median(array(read(folder, "t1ce"))[array(read(folder, "brain_t1ce")) > 0])
               for folder in cohort.values()]
    assert max(medians) > 2 * min(medians)


def test_load_truth_names_a_missing_case(tmp_path):
    with pytest.raises(InputError, match="truth.json"):
        load_truth(tmp_path)
