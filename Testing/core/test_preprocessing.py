"""The preprocessing pipeline on one coarse synthetic head with known truth.

One module-scoped `Preprocessor` produces the case in the T2 space (1 mm, WhiteStripe, as
Shin 2021) and twice in the T1CE space (2 mm, z-score; and with per-slice histogram
equalisation), so the shared steps run once for all the tests here. The phantom is made at
2.5 mm (T2 and FLAIR with ~8-10 mm slices, every sequence rotated and shifted): registration
and mask accuracy are checked against tolerances for that resolution, not the 1 mm targets.
"""

import dataclasses
import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.image import read_image, same_geometry
from BrainTumorAILib.preprocessing import (
    PreprocessedCase, PreprocessOptions, Preprocessor, pipeline, preprocess, registration_error_mm, resample_mask,
    to_input_grid,
)
from BrainTumorAILib.preprocessing.grid import axial_axis, geometry, physical_points
from BrainTumorAILib.preprocessing.normalisation import white_matter_mode
from BrainTumorAILib.preprocessing.transforms import apply
from BrainTumorAILib.synthetic import load_truth, make_case, true_transform

SEQUENCES = ("t1ce", "t2", "flair")
# gbm seed 5 at 2.5 mm: every sequence moved (T1CE 4 deg / 13 mm, T2 9 deg / 9 mm, FLAIR 3 deg / 9 mm).
KIND, SEED, VOXEL_MM = "gbm", 5, 2.5
# Max error over brain points at this resolution (the T2 has 10 mm slices); measured 0.5-1.5 mm on
# four phantoms. The 1 mm timing target is for 1 mm cases (benchmark, not this test).
REGISTRATION_TOLERANCE_MM = 2.0
# Truth masks at 2.5 mm (T2: 10 mm slices) resampled to the output grid; measured 0.96-0.98.
BRAIN_DICE_MIN = 0.93


def fingerprint(image: sitk.Image) -> tuple:
    """Voxels and geometry of an image, to show it was not modified."""
    voxels = hashlib.sha256(sitk.GetArrayViewFromImage(image).tobytes()).hexdigest()
    return voxels, image.GetPixelIDValue(), image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection()


def centre(image: sitk.Image) -> np.ndarray:
    return np.array(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def counting(monkeypatch, counts: dict, name: str):
    """Wrap `pipeline.<name>` so each call is counted."""
    original = getattr(pipeline, name)

    def wrapper(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline, name, wrapper)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = make_case(tmp_path_factory.mktemp("preprocessing"), KIND, SEED, voxel_mm=VOXEL_MM)
    images = {name: read_image(folder / f"{name}.nii.gz", name) for name in SEQUENCES}
    before = {name: fingerprint(image) for name, image in images.items()}
    counts = {"n4_correct": 0, "register_rigid": 0, "extract_brain": 0}
    options = PreprocessOptions(reference="t2")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in counts:
            counting(monkeypatch, counts, name)
        preprocessor = Preprocessor(images, options)
        t2 = preprocessor.case()
        counts_after_first = dict(counts)
        t1ce = preprocessor.case("t1ce", options=dataclasses.replace(options, resample_mm=2.0))
        equalised = preprocessor.case(options=PreprocessOptions(reference="t1ce", resample_mm=2.0,
                                                                histogram_equalisation=True))
    return SimpleNamespace(folder=folder, truth=load_truth(folder), images=images, before=before,
                           preprocessor=preprocessor, options=options, t2=t2, t1ce=t1ce, equalised=equalised,
                           counts=counts, counts_after_first=counts_after_first)


def truth_mask(prepared, reference: str) -> sitk.Image:
    return read_image(prepared.folder / "truth" / f"brain_{reference}.nii.gz", "truth brain")


def brain_points(prepared, reference: str) -> np.ndarray:
    mask = truth_mask(prepared, reference)
    return physical_points(mask, sitk.GetArrayViewFromImage(mask) > 0)


def test_output_grid_has_the_requested_spacing_and_the_reference_direction(prepared):
    for case, reference, spacing in ((prepared.t2, "t2", 1.0), (prepared.t1ce, "t1ce", 2.0),
                                     (prepared.equalised, "t1ce", 2.0)):
        source = prepared.images[reference]
        assert case.reference == reference
        assert set(case.images) == set(SEQUENCES)
        for image in (*case.images.values(), case.brain_mask):
            assert image.GetSpacing() == pytest.approx((spacing,) * 3)
            assert image.GetDirection() == pytest.approx(source.GetDirection(), abs=1e-9)
            assert same_geometry(image, case.brain_mask)
        assert case.brain_mask.GetPixelID() == sitk.sitkUInt8
        assert all(image.GetPixelID() == sitk.sitkFloat32 for image in case.images.values())
        # same centre; covers the reference input's field of view, overhanging by under one voxel
        assert centre(case.brain_mask) == pytest.approx(centre(source), abs=1e-6)
        extent = np.array(source.GetSize()) * source.GetSpacing()
        grid_extent = np.array(case.brain_mask.GetSize()) * spacing
        assert np.all(grid_extent >= extent - 1e-6) and np.all(grid_extent < extent + spacing)


def test_without_resampling_the_reference_input_grid_is_kept(prepared):
    case = prepared.preprocessor.case(options=dataclasses.replace(prepared.options, resample_mm=None))
    reference = prepared.images["t2"]
    for image in (*case.images.values(), case.brain_mask):
        assert same_geometry(image, reference, tol=1e-9)
    # on its own grid the reference is only bias-corrected and normalised: same voxel order
    corrected = sitk.GetArrayViewFromImage(prepared.preprocessor.corrected("t2"))
    normalised = sitk.GetArrayViewFromImage(case.images["t2"])
    assert np.corrcoef(corrected.ravel(), normalised.ravel())[0, 1] == pytest.approx(1.0, abs=1e-6)


def test_registration_recovers_the_true_transforms(prepared):
    for case in (prepared.t2, prepared.t1ce):
        points = brain_points(prepared, case.reference)
        np.testing.assert_array_equal(case.transforms[case.reference], np.eye(4))
        for name in SEQUENCES:
            expected = true_transform(prepared.truth, case.reference, name)
            error = registration_error_mm(case.transforms[name], expected, points)
            assert error < REGISTRATION_TOLERANCE_MM, f"{case.reference} -> {name}: {error:.2f} mm"
    # the two spaces are one set of registrations composed through the hub: exact inverses
    np.testing.assert_allclose(prepared.t1ce.transforms["t2"], np.linalg.inv(prepared.t2.transforms["t1ce"]),
                               atol=1e-9)


def test_brain_mask_matches_the_truth(prepared):
    for case in (prepared.t2, prepared.t1ce):
        truth = resample_mask(truth_mask(prepared, case.reference), case.brain_mask)
        found = sitk.GetArrayViewFromImage(case.brain_mask) > 0
        assert set(np.unique(sitk.GetArrayViewFromImage(case.brain_mask))) == {0, 1}
        score = dice(found, sitk.GetArrayViewFromImage(truth) > 0)
        assert score >= BRAIN_DICE_MIN, f"{case.reference} space: Dice {score:.3f}"


def test_normalisation_statistics_inside_the_brain(prepared):
    # T1CE space, "auto": z-score within the brain (Juenger 2021)
    assert prepared.t1ce.parameters["options"]["normalisation"] == "zscore"
    inside = sitk.GetArrayViewFromImage(prepared.t1ce.brain_mask) > 0
    for name, image in prepared.t1ce.images.items():
        values = sitk.GetArrayViewFromImage(image)[inside]
        assert values.mean() == pytest.approx(0.0, abs=1e-3), name
        assert values.std() == pytest.approx(1.0, abs=1e-3), name
    # T2 space, "auto": WhiteStripe (Shin 2021): the white-matter peak sits at 0, and it is the
    # stripe (not the whole brain) that has unit spread, so the brain's sd is well above 1
    assert prepared.t2.parameters["options"]["normalisation"] == "whitestripe"
    inside = sitk.GetArrayViewFromImage(prepared.t2.brain_mask) > 0
    for name, image in prepared.t2.images.items():
        values = sitk.GetArrayViewFromImage(image)[inside]
        assert abs(white_matter_mode(values, name)) < 0.5, name
        assert values.std() > 2.0, name


def test_histogram_equalisation_per_axial_slice(prepared):
    case = prepared.equalised
    brain = sitk.GetArrayViewFromImage(case.brain_mask) > 0
    axis = axial_axis(case.brain_mask)
    for name, image in case.images.items():
        array = sitk.GetArrayViewFromImage(image)
        assert array.min() >= 0.0 and array.max() <= 1.0
        assert np.all(array[~brain] == 0.0), name
        for index in range(array.shape[axis]):
            inside = np.take(brain, index, axis=axis)
            if inside.sum() < 200:
                continue
            values = np.take(array, index, axis=axis)[inside]
            # equalised: the slice's brain values are close to uniform on [0, 1]
            assert np.quantile(values, [0.25, 0.5, 0.75]) == pytest.approx([0.25, 0.5, 0.75], abs=0.06)


def gaussian_blob(grid: sitk.Image, centre_lps: np.ndarray, sigma_mm: float) -> sitk.Image:
    points = physical_points(grid, np.ones(sitk.GetArrayViewFromImage(grid).shape, bool))
    values = np.exp(-np.sum((points - centre_lps) ** 2, axis=1) / (2 * sigma_mm ** 2))
    image = sitk.GetImageFromArray(values.reshape(sitk.GetArrayViewFromImage(grid).shape).astype(np.float32))
    image.CopyInformation(grid)
    return image


def weighted_centroid(image: sitk.Image) -> np.ndarray:
    array = sitk.GetArrayViewFromImage(image)
    points = physical_points(image, array > 1e-3)
    weights = array[array > 1e-3]
    return (points * weights[:, None]).sum(0) / weights.sum()


def test_to_input_grid_lands_a_point_on_the_same_anatomy_of_every_oblique_anisotropic_input(prepared):
    case = prepared.t1ce  # the 2 mm grid: cheaper than the 1 mm one, and the same code
    centre = brain_points(prepared, "t1ce").mean(axis=0)  # a point in the T1CE input's (and grid's) space
    # 8 mm wide: sampled without bias even across the 10 mm T2 slices
    blob = gaussian_blob(case.brain_mask, centre, sigma_mm=8.0)
    for name in SEQUENCES:
        source = prepared.images[name]
        assert len(set(np.round(source.GetSpacing(), 3))) > 1  # anisotropic
        assert not np.allclose(np.abs(source.GetDirection()), np.eye(3).ravel())  # oblique
        mapped = to_input_grid(blob, case, sequence=name)
        assert same_geometry(mapped, source, tol=1e-9)
        expected = apply(case.transforms[name], centre)  # the same anatomy in that input
        assert np.linalg.norm(weighted_centroid(mapped) - expected) < 0.5, name
    # default target: the reference input, where the point stays where it is
    assert np.linalg.norm(weighted_centroid(to_input_grid(blob, case)) - centre) < 0.5


def test_brain_mask_mapped_back_onto_the_native_t2_grid_matches_the_truth(prepared):
    native = to_input_grid(prepared.t2.brain_mask, prepared.t2, sitk.sitkNearestNeighbor)
    truth = truth_mask(prepared, "t2")
    assert same_geometry(native, truth, tol=1e-5) and native.GetPixelID() == sitk.sitkUInt8
    # partial volume of 10 mm slices costs a little against the 1 mm grid's score
    assert dice(sitk.GetArrayViewFromImage(native) > 0, sitk.GetArrayViewFromImage(truth) > 0) >= 0.9


def test_to_input_grid_refuses_images_off_the_reference_grid(prepared):
    with pytest.raises(InputError, match="not on the preprocessed reference grid"):
        to_input_grid(prepared.t1ce.brain_mask, prepared.t2)
    with pytest.raises(InputError, match="no input geometry for sequence 't1'"):
        to_input_grid(prepared.t2.brain_mask, prepared.t2, sequence="t1")


def test_a_second_reference_space_reuses_n4_registration_and_brain_extraction(prepared):
    # one N4 per sequence, one registration per non-hub sequence, one brain extraction: all in the
    # first case; the T1CE cases only resample and normalise
    assert prepared.counts_after_first == {"n4_correct": 3, "register_rigid": 2, "extract_brain": 1}
    assert prepared.counts == prepared.counts_after_first
    assert {"bias_correction", "registration", "brain_extraction"} <= set(prepared.t2.timings_s)
    for case in (prepared.t1ce, prepared.equalised):
        assert set(case.timings_s) == {"resampling", "normalisation", "total"}


@pytest.mark.parametrize("change", [
    {"bias_correction": False}, {"registration": False}, {"brain_extraction": "template"},
    {"n4": dataclasses.replace(PreprocessOptions().n4, fit_spacing_mm=4.0)},
    {"rigid": dataclasses.replace(PreprocessOptions().rigid, iterations=10)},
])
def test_options_that_differ_in_a_shared_step_are_refused(prepared, change):
    with pytest.raises(ValueError, match="shared step"):
        prepared.preprocessor.case(options=dataclasses.replace(prepared.options, **change))


def test_preprocessing_json_follows_the_contract_and_reads_back(prepared, tmp_path):
    case = prepared.t1ce
    path = case.write(tmp_path)
    assert path == tmp_path / "preprocessing.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["preprocessing.json", "brain_mask.nii.gz"] + [f"{name}.nii.gz" for name in SEQUENCES])
    data = json.loads(path.read_text())
    assert data["coordinate_system"] == "LPS" and data["reference"] == "t1ce"
    assert set(data["transforms"]) == set(SEQUENCES)
    points = brain_points(prepared, "t1ce")
    for name, matrix in data["transforms"].items():
        matrix = np.array(matrix)
        assert matrix.shape == (4, 4)
        np.testing.assert_array_equal(matrix[3], [0, 0, 0, 1])
        rotation = matrix[:3, :3]  # rigid: a proper rotation
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        # row-major, fixed (reference input) to moving (this sequence's input), LPS mm
        error = registration_error_mm(matrix, true_transform(prepared.truth, "t1ce", name), points)
        assert error < REGISTRATION_TOLERANCE_MM, name
    np.testing.assert_array_equal(np.array(data["transforms"]["t1ce"]), np.eye(4))
    assert data["input_geometry"] == {name: geometry(image) for name, image in prepared.images.items()}
    assert data["grid"] == geometry(case.brain_mask)
    assert data["parameters"]["options"]["reference"] == "t1ce"
    assert data["parameters"]["options"]["resample_mm"] == 2.0
    assert PreprocessOptions.from_json(data["parameters"]["options"]) == dataclasses.replace(
        prepared.options, reference="t1ce", resample_mm=2.0, normalisation="zscore")

    back = PreprocessedCase.read(tmp_path)
    assert back.reference == "t1ce" and set(back.images) == set(SEQUENCES)
    for name in SEQUENCES:
        np.testing.assert_allclose(back.transforms[name], case.transforms[name], atol=1e-12)
        assert same_geometry(back.images[name], case.images[name], tol=1e-4)
        np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back.images[name]),
                                      sitk.GetArrayViewFromImage(case.images[name]))
    # NIfTI stores the origin in single precision: geometry agrees to ~1e-5 mm
    assert same_geometry(back.brain_mask, case.brain_mask, tol=1e-4)
    assert back.brain_mask.GetPixelID() == sitk.sitkUInt8
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back.brain_mask),
                                  sitk.GetArrayViewFromImage(case.brain_mask))
    assert back.input_geometry == data["input_geometry"] and back.parameters == data["parameters"]


def test_reading_a_folder_without_preprocessing_json_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a preprocessed case"):
        PreprocessedCase.read(tmp_path)


def test_inputs_are_never_modified(prepared):
    assert {name: fingerprint(image) for name, image in prepared.images.items()} == prepared.before


def test_bad_input_sets_are_refused_before_any_work(prepared):
    images = prepared.images
    with pytest.raises(InputError, match="reference sequence 't2' is missing"):
        preprocess({"t1ce": images["t1ce"]}, PreprocessOptions(reference="t2"))
    with pytest.raises(InputError, match="unknown sequence name"):
        preprocess({"t2": images["t2"], "dwi": images["t1ce"]}, PreprocessOptions(reference="t2"))
    constant = sitk.Image(images["flair"])
    constant *= 0
    with pytest.raises(InputError, match="flair: image is constant"):
        preprocess({"t2": images["t2"], "flair": constant}, PreprocessOptions(reference="t2"))
    elsewhere = sitk.Image(images["t1ce"])
    elsewhere.SetOrigin(tuple(np.array(elsewhere.GetOrigin()) + [0.0, 0.0, 900.0]))
    with pytest.raises(InputError, match="t1ce and t2 do not overlap"):
        preprocess({"t2": images["t2"], "t1ce": elsewhere}, PreprocessOptions(reference="t2"))
    assert fingerprint(images["t1ce"]) == prepared.before["t1ce"]


@pytest.mark.parametrize("options, message", [
    ({"reference": "flair"}, "reference must be one of"),
    ({"resample_mm": 0.0}, "resample_mm must be positive"),
    ({"normalisation": "minmax"}, "normalisation must be one of"),
    ({"brain_extraction": "bet"}, "brain extraction must be one of"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(InputError, match=message):
        PreprocessOptions(**options)
