"""`braintumorai evaluate --task mets-3d`: lesion-wise statistics of run outputs against the truth,
in physical space (the synthetic T1CE is oblique and anisotropic; the truth lies on its own grid)."""

import json

import numpy as np
import SimpleITK as sitk

from BrainTumorAILib.cli import main
from BrainTumorAILib.image import read_image, write_image
from BrainTumorAILib.synthetic import make_case


def _fake_run(run_dir, t1ce: sitk.Image, lesions: sitk.Image) -> int:
    """A mets-3d run output that misses the largest true lesion and adds one blob where none is;
    returns the number of true lesions."""
    labels = sitk.GetArrayFromImage(sitk.Resample(lesions, t1ce, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                                  sitk.sitkUInt8))
    ids, sizes = np.unique(labels[labels > 0], return_counts=True)
    found = (labels > 0) & (labels != ids[np.argmax(sizes)])
    far = np.argwhere(labels == 0)[0]  # a grid corner, far from every lesion
    found[tuple(slice(max(int(c), 0), int(c) + 4) for c in far)] = True
    seg = sitk.GetImageFromArray(found.astype(np.uint8))
    seg.CopyInformation(t1ce)
    run_dir.mkdir(parents=True)
    write_image(seg, run_dir / "mets-3d_seg.nii.gz")
    write_image(sitk.Cast(seg, sitk.sitkFloat32), run_dir / "mets-3d_prob.nii.gz")
    (run_dir / "result.json").write_text(json.dumps({"tasks": {"mets-3d": {"threshold": 0.5, "min_lesion_mm3": 3.0}}}))
    return len(ids)


def test_evaluate_counts_missed_and_false_lesions(tmp_path, capsys):
    case = make_case(tmp_path / "cases", "metastases", 5, voxel_mm=2.0)
    n_truth = _fake_run(tmp_path / "runs" / case.name, read_image(case / "t1ce.nii.gz"),
                        read_image(case / "truth" / "lesions_t1ce.nii.gz"))
    main(["evaluate", "--task", "mets-3d", "--pred", str(tmp_path / "runs"), "--truth", str(tmp_path / "cases"),
          "--out", str(tmp_path / "eval")])
    assert "mets-3d: 1 cases, lesion sensitivity" in capsys.readouterr().out
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    counts = report["cases"][case.name]
    assert counts["n_truth"] == n_truth >= 2
    assert (counts["true_positives"], counts["false_negatives"], counts["false_positives"]) == (n_truth - 1, 1, 1)
    assert report["metrics"]["figures"]["sensitivity"] == (n_truth - 1) / n_truth
    assert report["metrics"]["figures"]["false_positives_per_case"] == 1.0


def test_evaluate_scores_the_agreed_list_from_its_mask(tmp_path, capsys):
    case = make_case(tmp_path / "cases", "metastases", 5, voxel_mm=2.0)
    run_dir = tmp_path / "runs" / case.name
    n_truth = _fake_run(run_dir, read_image(case / "t1ce.nii.gz"), read_image(case / "truth" / "lesions_t1ce.nii.gz"))
    # the agreed list: the same mask without its false blob (a mask, no probability map)
    seg = read_image(run_dir / "mets-3d_seg.nii.gz")
    labels = sitk.RelabelComponent(sitk.ConnectedComponent(seg, True))
    far = int(sitk.GetArrayViewFromImage(labels)[tuple(np.argwhere(sitk.GetArrayViewFromImage(seg) > 0)[0])])  # the corner blob
    agreed = sitk.Cast((labels > 0) & (labels != far), sitk.sitkUInt8)
    write_image(agreed, run_dir / "mets-agreed_seg.nii.gz")
    result = json.loads((run_dir / "result.json").read_text())
    (run_dir / "result.json").write_text(json.dumps({**result, "agreed_lesions": {"n_lesions": 1, "lesions": []}}))
    main(["evaluate", "--task", "mets-agreed", "--pred", str(tmp_path / "runs"), "--truth", str(tmp_path / "cases"),
          "--out", str(tmp_path / "eval")])
    assert "mets-agreed: 1 cases" in capsys.readouterr().out
    counts = json.loads((tmp_path / "eval" / "evaluation.json").read_text())["cases"][case.name]
    assert (counts["true_positives"], counts["false_negatives"], counts["false_positives"]) == (n_truth - 1, 1, 0)
