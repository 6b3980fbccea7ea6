"""Case index: BraTS-style folders, synthetic cohorts, CSV manifests, and their clear errors."""

import json

import pytest
import SimpleITK as sitk
from conftest import make_image

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.training import index_cases, index_folder, index_manifest, require_sequences

BRATS_2023 = {"t1ce": "t1c", "t1": "t1n", "t2": "t2w", "flair": "t2f"}


def _nifti(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(make_image(size=(6, 5, 4), seed=seed), str(path))
    return path


def _brats_case(root, name, seg=True, skip=()):
    for key, suffix in BRATS_2023.items():
        if key not in skip:
            _nifti(root / name / f"{name}-{suffix}.nii.gz")
    if seg:
        _nifti(root / name / f"{name}-seg.nii.gz")


def _synthetic_case(root, name, gbm_met_label, tumour_type):
    for sequence in ("t1ce", "t2", "flair", "t1"):
        _nifti(root / name / f"{sequence}.nii.gz")
    _nifti(root / name / "truth" / "seg_t1ce.nii.gz")
    truth = {"gbm_met_label": gbm_met_label, "tumour_type": tumour_type, "roi_ras": [-40, 12, -30, 25, -10, 30]}
    (root / name / "truth.json").write_text(json.dumps(truth))


def test_brats_folder_groups_time_points_by_patient(tmp_path):
    _brats_case(tmp_path, "BraTS-GLI-00001-000")
    _brats_case(tmp_path, "BraTS-GLI-00001-001", seg=False)
    _brats_case(tmp_path, "BraTS-MET-00002-000")
    cases = index_cases(tmp_path)
    assert [c.case_id for c in cases] == ["BraTS-GLI-00001-000", "BraTS-GLI-00001-001", "BraTS-MET-00002-000"]
    assert [c.patient_id for c in cases] == ["BraTS-GLI-00001", "BraTS-GLI-00001", "BraTS-MET-00002"]
    first = cases[0]
    assert first.sequences["t1ce"] == tmp_path / "BraTS-GLI-00001-000" / "BraTS-GLI-00001-000-t1c.nii.gz"
    assert first.sequences["flair"].name.endswith("-t2f.nii.gz") and first.sequences["t1"].name.endswith("-t1n.nii.gz")
    assert first.seg.name == "BraTS-GLI-00001-000-seg.nii.gz"
    assert cases[1].seg is None and first.label is None


def test_brats_2021_names_are_indexed(tmp_path):
    for suffix in ("t1ce", "t1", "t2", "flair", "seg"):
        _nifti(tmp_path / "BraTS2021_00005" / f"BraTS2021_00005_{suffix}.nii.gz")
    (case,) = index_folder(tmp_path)
    assert case.patient_id == "BraTS2021_00005"
    assert set(case.sequences) == {"t1ce", "t1", "t2", "flair"} and case.seg is not None


def test_brats_case_missing_a_sequence_is_named(tmp_path):
    _brats_case(tmp_path, "BraTS-GLI-00003-000", skip=("t2",))
    with pytest.raises(InputError, match=r"BraTS-GLI-00003-000: missing t2 .*-t2w\.nii\.gz"):
        index_cases(tmp_path)


def test_unrecognised_case_folder_and_empty_folder(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(InputError, match="case folder .*notes: neither BraTS files"):
        index_cases(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "notes").rmdir()
    with pytest.raises(InputError, match="no cases found"):
        index_cases(empty)


def test_synthetic_cohort_reads_truth_json(tmp_path):
    _synthetic_case(tmp_path, "gbm_000", "GBM", "hgg")
    _synthetic_case(tmp_path, "men_000", None, "meningioma")
    by_gbm_met = {c.case_id: c for c in index_cases(tmp_path)}
    assert by_gbm_met["gbm_000"].label == "GBM" and by_gbm_met["men_000"].label is None
    assert by_gbm_met["gbm_000"].roi_ras == [-40, 12, -30, 25, -10, 30]
    assert by_gbm_met["gbm_000"].seg == tmp_path / "gbm_000" / "truth" / "seg_t1ce.nii.gz"
    assert by_gbm_met["gbm_000"].truth == tmp_path / "gbm_000" / "truth.json"
    by_type = {c.case_id: c.label for c in index_cases(tmp_path, label_key="tumour_type")}
    assert by_type == {"gbm_000": "hgg", "men_000": "meningioma"}


def test_synthetic_truth_without_documented_keys(tmp_path):
    _synthetic_case(tmp_path, "gbm_000", "GBM", "hgg")
    (tmp_path / "gbm_000" / "truth.json").write_text(json.dumps({"gbm_met_label": "GBM"}))
    with pytest.raises(InputError, match="gbm_000: truth.json lacks tumour_type, roi_ras"):
        index_cases(tmp_path)


def _manifest(tmp_path, header, *rows):
    path = tmp_path / "cases.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_manifest_with_relative_paths_labels_and_roi(tmp_path):
    _nifti(tmp_path / "img" / "a_t1ce.nii.gz")
    _nifti(tmp_path / "img" / "a_t2.nii.gz")
    _nifti(tmp_path / "img" / "b_t1ce.nii.gz")
    path = _manifest(tmp_path, "case_id,patient_id,label,t1ce,t2,roi_ras",
                     'a,P1,GBM,img/a_t1ce.nii.gz,img/a_t2.nii.gz,"-40,12,-30,25,-10,30"',
                     f"b,P2,metastasis,{tmp_path / 'img' / 'b_t1ce.nii.gz'},,-5;5;-6;6;0;8")
    a, b = index_manifest(path)
    assert (a.case_id, a.patient_id, a.label) == ("a", "P1", "GBM")
    assert a.sequences == {"t1ce": tmp_path / "img" / "a_t1ce.nii.gz", "t2": tmp_path / "img" / "a_t2.nii.gz"}
    assert a.roi_ras == [-40, 12, -30, 25, -10, 30] and b.roi_ras == [-5, 5, -6, 6, 0, 8]
    assert set(b.sequences) == {"t1ce"} and b.seg is None
    with pytest.raises(InputError, match=r"b \(t2\)"):
        require_sequences([a, b], ["t1ce", "t2"])


@pytest.mark.parametrize("header, row, message", [
    ("case_id,patient_id,t1ce,scanner", "a,P1,x.nii.gz,GE", r"unknown column\(s\) scanner"),
    ("case_id,t1ce", "a,x.nii.gz", r"missing column\(s\) patient_id"),
    ("case_id,patient_id,label", "a,P1,GBM", "no sequence column"),
    ("case_id,patient_id,t1ce", "a,P1,missing.nii.gz", "line 2: t1ce file not found"),
    ("case_id,patient_id,t1ce", ",P1,x.nii.gz", "line 2: case_id and patient_id must not be empty"),
    ("case_id,patient_id,t1ce,roi_ras", 'a,P1,x.nii.gz,"1,2,3"', "line 2: roi_ras must be"),
    ("case_id,patient_id,t1ce,roi_ras", 'a,P1,x.nii.gz,"5,1,0,1,0,1"', "line 2: roi_ras must be"),
    ("case_id,patient_id,t1ce", "a,P1,x.nii.gz,extra", "line 2: more cells than columns"),
])
def test_manifest_errors_name_the_problem(tmp_path, header, row, message):
    _nifti(tmp_path / "x.nii.gz")
    with pytest.raises(InputError, match=message):
        index_manifest(_manifest(tmp_path, header, row))


def test_manifest_duplicates_and_empty(tmp_path):
    _nifti(tmp_path / "x.nii.gz")
    with pytest.raises(InputError, match="duplicate case_id.* a"):
        index_manifest(_manifest(tmp_path, "case_id,patient_id,t1ce", "a,P1,x.nii.gz", "a,P2,x.nii.gz"))
    with pytest.raises(InputError, match="no cases found"):
        index_manifest(_manifest(tmp_path, "case_id,patient_id,t1ce"))


def test_index_cases_refuses_other_paths(tmp_path):
    with pytest.raises(InputError, match="expected a folder of cases or a .csv manifest"):
        index_cases(tmp_path / "cases.xlsx")
