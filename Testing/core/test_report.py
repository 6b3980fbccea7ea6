"""report.html: self-contained, carries every verdict's numbers, the lesion table, the model sets'
notices, and key slices cut in physical space in the radiological convention."""

import base64
import io
import re
from html.parser import HTMLParser

import matplotlib.image
import numpy as np
import pytest
import SimpleITK as sitk

from BrainTumorAILib import __version__
from BrainTumorAILib.image import lps_to_ras, read_image
from BrainTumorAILib.models.card import DEMO_NOTICE
from BrainTumorAILib.report.html import build_report
from BrainTumorAILib.report.images import cut_axial_slice, peak_ras, render_axial_slice
from BrainTumorAILib.report.text import print_run_summary
from BrainTumorAILib.roi import BoxROI
from BrainTumorAILib.runner import RunResult, _geometry_ras, write_run
from BrainTumorAILib.synthetic import load_truth, make_case
from BrainTumorAILib.tasks.gbm_met import method as gbm_met
from BrainTumorAILib.tasks.metastases.lesions import lesion_table
from conftest import rotation_matrix

INTENDED_USE = "Demonstration of the pipeline on synthetic phantoms; research use only."
TUMOUR_TYPE_PROBABILITIES = {"hgg": 0.05, "lgg": 0.02, "metastasis": 0.81, "meningioma": 0.04,
                             "pituitary": 0.03, "schwannoma": 0.03, "healthy": 0.02}


def voxel_points_ras(grid: sitk.Image) -> np.ndarray:
    """RAS mm of every voxel centre, (z, y, x, 3)."""
    shape = sitk.GetArrayViewFromImage(grid).shape
    k, j, i = np.indices(shape)
    index = np.stack([i.ravel(), j.ravel(), k.ravel()], 1).astype(float)
    matrix = np.array(grid.GetDirection()).reshape(3, 3) * grid.GetSpacing()
    return lps_to_ras(np.array(grid.GetOrigin()) + index @ matrix.T).reshape(*shape, 3)


def blob(grid: sitk.Image, center_ras, sigma_mm: float) -> sitk.Image:
    """A Gaussian map, 1 at `center_ras`, on `grid`'s exact geometry."""
    distance = np.linalg.norm(voxel_points_ras(grid) - np.asarray(center_ras), axis=-1)
    image = sitk.GetImageFromArray(np.exp(-0.5 * (distance / sigma_mm) ** 2).astype(np.float32))
    image.CopyInformation(grid)
    return image


def model_entry(name: str, task: str) -> dict:
    """As ModelSet.describe() gives it, plus the card's intended use."""
    return {"name": name, "version": "1.0", "task": task, "architecture": "demo-net", "demo": True,
            "notice": DEMO_NOTICE, "folds": ["0" * 64, "1" * 64, "2" * 64], "intended_use": INTENDED_USE,
            "limitations": ["Trained on synthetic phantoms only."]}


def synthetic_run(folder) -> RunResult:
    """A run of gbm-met, mets-3d and tumour-type on a coarse synthetic case, with fabricated maps on
    the contract's grids (gbm-met on the T2 input, the others on the T1CE input)."""
    case = make_case(folder, "metastases", 3, voxel_mm=3.0)
    truth = load_truth(case)
    inputs = {name: read_image(case / f"{name}.nii.gz", name) for name in ("t1ce", "t2", "flair")}
    t1ce, t2 = inputs["t1ce"], inputs["t2"]
    lesion_ids = sitk.Cast(read_image(case / "truth" / "lesions_t1ce.nii.gz"), sitk.sitkUInt8)
    probability = sitk.SmoothingRecursiveGaussian(sitk.Cast(lesion_ids > 0, sitk.sitkFloat32), 3.0)
    probability = sitk.Cast(sitk.RescaleIntensity(probability, 0.0, 1.0), sitk.sitkFloat32)
    rows = lesion_table(lesion_ids, probability)
    roi = BoxROI.from_ras_bounds(truth["roi_ras_by_sequence"]["t2"])
    largest = max(rows, key=lambda r: r["volume_mm3"])

    gbm_entry = gbm_met.vote(np.array([[0.9, 0.7, 0.2, 0.8, 0.6], [0.8, 0.4, 0.3, 0.7, 0.7],
                                       [0.7, 0.6, 0.1, 0.9, 0.4]]), cutoff=0.55)
    gbm_entry.update(model_set="gbm-met-demo", notice=DEMO_NOTICE, cutoff_source="paper (Shin 2021)")
    mets_entry = {"n_lesions": len(rows), "threshold": 0.5, "model_set": "mets-3d-demo", "notice": DEMO_NOTICE,
                  "lesions": [{"id": r["id"], "volume_mm3": r["volume_mm3"],
                               "centroid_ras": [r["centroid_r"], r["centroid_a"], r["centroid_s"]],
                               "longest_diameter_mm": r["longest_diameter_mm"],
                               "max_probability": r["max_probability"]} for r in rows]}
    type_entry = {"label": "metastasis", "probabilities": TUMOUR_TYPE_PROBABILITIES,
                  "model_set": "tumour-type-demo", "notice": DEMO_NOTICE}
    result = {
        "tasks": {"gbm-met": gbm_entry, "mets-3d": mets_entry, "tumour-type": type_entry},
        "device": "cpu", "version": __version__, "roi": roi.to_json(),
        "models": {"gbm-met": model_entry("gbm-met-demo", "gbm-met"),
                   "mets-3d": model_entry("mets-3d-demo", "mets-3d"),
                   "tumour-type": model_entry("tumour-type-demo", "tumour-type")},
        "timings_s": {"gbm-met": 3.2, "mets-3d": 11.5, "tumour-type": 2.1, "preprocess_t2": 20.4,
                      "preprocess_t1ce": 6.0, "total": 43.2},
        "notes": ["mets-25d skipped: no model set installed (make weights, or braintumorai train --register)"],
        "inputs": {name: _geometry_ras(image) for name, image in inputs.items()},
    }
    images = {"gbm-met_cam.nii.gz": blob(t2, roi.center_ras, 12.0),
              "mets-3d_seg.nii.gz": lesion_ids, "mets-3d_prob.nii.gz": probability,
              "tumour-type_cam.nii.gz": blob(t1ce, [largest["centroid_r"], largest["centroid_a"],
                                                    largest["centroid_s"]], 15.0)}
    return RunResult(result=result, images=images, lesions=[{"task": "mets-3d", **r} for r in rows],
                     inputs=inputs)


_SHARED_RUN = {}  # the browser test imports the fixture, which pytest then defines a second time


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    if "run" not in _SHARED_RUN:
        _SHARED_RUN["run"] = synthetic_run(tmp_path_factory.mktemp("report_case"))
    return _SHARED_RUN["run"]


@pytest.fixture(scope="session")
def report_page(report_run):
    return build_report(report_run)


class _Resources(HTMLParser):
    """Every tag and every attribute that could load something."""

    def __init__(self):
        super().__init__()
        self.tags, self.sources = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [(tag, name, value) for name, value in attrs if name in ("src", "href", "srcset", "data")]


def embedded_pngs(page: str) -> list[np.ndarray]:
    return [matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")
            for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)]


def test_report_is_self_contained(report_page):
    parser = _Resources()
    parser.feed(report_page)
    assert not {"script", "link", "iframe", "object", "embed"} & set(parser.tags)
    for tag, name, value in parser.sources:
        assert value.startswith("data:image/png;base64,") or (tag == "a" and value.startswith("#")), (tag, value)
    text_only = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report_page)
    assert not re.search(r"https?:|file:|url\(|@import|//[\w.-]+\.\w", text_only)


def test_report_shows_verdicts_with_their_numbers(report_run, report_page):
    gbm = report_run.result["tasks"]["gbm-met"]
    assert gbm["predictive_index"] == 0.8 and gbm["label"] == "GBM"  # 4 of 5 slices voted GBM
    for text in ("predictive index 0.80", "cut-off 0.55", "4 of 5", "at or above the cut-off", "paper (Shin 2021)",
                 f"fold agreement {gbm['fold_agreement']:.0%}", "0.80, 0.60, 0.60"):
        assert text in report_page, text
    # tumour-type: every class with its probability, the most likely first
    assert "metastasis (metastasis 81%, high-grade glioma 5%, meningioma 4%)" in report_page
    for probability in TUMOUR_TYPE_PROBABILITIES.values():
        assert f"{probability:.1%}" in report_page
    assert "vestibular schwannoma" in report_page and "pituitary adenoma" in report_page
    # the lesion table: every lesion's volume, diameter and RAS centroid
    rows = [r for r in report_run.lesions if r["task"] == "mets-3d"]
    assert f"{len(rows)} lesions" in report_page
    for row in rows:
        for key in ("volume_mm3", "longest_diameter_mm", "centroid_r", "centroid_a", "centroid_s"):
            assert f"<td class='num'>{row[key]:.1f}</td>" in report_page, (key, row)


def test_report_shows_inputs_models_timings_and_notes(report_run, report_page):
    result = report_run.result
    for name, geometry in result["inputs"].items():
        assert " × ".join(str(v) for v in geometry["size"]) in report_page, name
    assert report_page.count("axial, oblique") == 3  # the synthetic acquisitions are tilted axial slabs
    assert report_page.count(DEMO_NOTICE) >= 3  # banner and each model set
    assert "not a medical device" in report_page
    assert INTENDED_USE in report_page and "Trained on synthetic phantoms only." in report_page
    for name in ("gbm-met-demo", "mets-3d-demo", "tumour-type-demo"):
        assert name in report_page
    assert "<tr class=slowest><td>preprocess_t2</td><td class='num'>20.4</td><td class='num'>47%</td>" in report_page
    assert result["notes"][0] in report_page
    for task in result["tasks"]:
        assert f"id='{task}'" in report_page and f"href='#{task}'" in report_page


def test_key_slices_are_embedded_pictures(report_page):
    pictures = embedded_pngs(report_page)
    # gbm-met: ROI centre and CAM peak; mets-3d: two largest lesions (+ map peak); tumour-type: CAM peak
    assert 4 <= len(pictures) <= 9
    for picture in pictures:
        assert picture.shape[0] > 150 and picture.shape[1] > 300
        assert picture[..., :3].std() > 0.1  # a picture, not a blank
    assert report_page.count("radiological convention") == len(pictures)
    assert "lesion outlines (cyan, with ids)" in report_page and "the ROI (green dashes)" in report_page


def oblique_volume(points_ras: dict) -> sitk.Image:
    """An oblique, anisotropic volume with a bright Gaussian at each RAS point."""
    direction, spacing = rotation_matrix(10, -8, 30), np.array([1.5, 1.2, 3.0])
    grid = sitk.Image((60, 50, 24), sitk.sitkFloat32)
    grid.SetSpacing(tuple(spacing))
    grid.SetDirection(tuple(direction.ravel()))
    grid.SetOrigin(tuple(-direction @ (spacing * [30, 25, 12])))  # the volume's centre at the origin
    volume = sum(sitk.GetArrayFromImage(blob(grid, p, 3.0)) for p in points_ras.values())
    image = sitk.GetImageFromArray(volume.astype(np.float32))
    image.CopyInformation(grid)
    return image


def test_axial_slice_is_upright_and_radiological_on_an_oblique_input():
    right, anterior = np.array([25.0, 0.0, 2.0]), np.array([0.0, 22.0, 2.0])
    volume = oblique_volume({"right": right, "anterior": anterior})
    # a segmentation on another grid (axis-aligned, 1 mm) marking the right blob
    other = sitk.Image((80, 80, 40), sitk.sitkUInt8)
    other.SetOrigin((-40.0, -40.0, -20.0))
    labels = sitk.Cast(blob(other, right, 3.0) > 0.5, sitk.sitkUInt8) * 2
    cut = cut_axial_slice(2.0, volume, background=volume, labels=labels)
    rows, columns = cut.background.shape
    for name, point in (("right", right), ("anterior", anterior)):
        row, column = cut.pixel_of_ras(point)
        window = cut.background[int(row) - 3:int(row) + 4, int(column) - 3:int(column) + 4]
        assert window.max() > 0.8, name  # the blob is where physical space puts it
    # radiological convention: patient's right on the image's left, anterior at the top
    assert cut.pixel_of_ras(right)[1] < columns / 2 - 10
    assert cut.pixel_of_ras(anterior)[0] < rows / 2 - 10
    # the other grid's label lands on the same pixels as the background's blob
    label_rows, label_columns = np.nonzero(cut.labels == 2)
    assert np.hypot(label_rows.mean() - cut.pixel_of_ras(right)[0],
                    label_columns.mean() - cut.pixel_of_ras(right)[1]) < 1.5
    assert np.allclose(peak_ras(volume), right, atol=2.0) or np.allclose(peak_ras(volume), anterior, atol=2.0)
    # a ROI turned 45 degrees about S cuts a diamond: vertices 14 mm out along R, edges' middles 10 mm out
    turned = BoxROI(np.array([0.0, 0.0, 2.0]), rotation_matrix(0, 0, 45), np.array([20.0, 20.0, 20.0]))
    diamond = cut_axial_slice(2.0, volume, roi=turned).roi
    for point, inside in (([0, 0], True), ([12.5, 0], True), ([0, -12.5], True), ([8, 8], False)):
        row, column = np.round(cut.pixel_of_ras([point[0], point[1], 2.0])).astype(int)
        assert diamond[row, column] == inside, point
    assert diamond.sum() * cut.pixel_mm ** 2 == pytest.approx(400.0, rel=0.1)
    assert render_axial_slice(cut, "test").startswith(b"\x89PNG")


def test_report_leaves_out_what_a_run_lacks(report_run):
    gbm_only = RunResult(result={"tasks": {"gbm-met": {"label": "metastasis", "predictive_index": 0.3}},
                                 "models": {"gbm-met": None}, "notes": [], "timings_s": {}, "inputs": {}},
                         images={"gbm-met_cam.nii.gz": report_run.images["gbm-met_cam.nii.gz"]})
    page = build_report(gbm_only)
    assert "predictive index 0.30, cut-off n/a" in page
    assert len(embedded_pngs(page)) >= 1 and "no input image (not available)" in page
    nothing = RunResult(result={"tasks": {}, "models": {}, "timings_s": {"total": 1.0}, "device": "cpu",
                                "notes": ["gbm-met skipped: needs an ROI (--roi or --roi-ras)"], "inputs": {}})
    page = build_report(nothing)
    assert "gbm-met skipped: needs an ROI" in page and not embedded_pngs(page)
    # a task the report has no section for still shows its verdict and numbers
    other = RunResult(result={"tasks": {"new-task": {"label": "positive", "score": 0.4321, "n": 7}},
                              "models": {}, "timings_s": {}, "notes": [], "inputs": {}})
    page = build_report(other)
    assert "positive" in page and "0.4321" in page and "<td>7</td>" in page


def test_write_run_writes_the_report_beside_the_results(report_run, tmp_path, capsys):
    out = write_run(report_run, tmp_path / "run")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "predictive index 0.80" in page and (out / "mets-3d_seg.nii.gz").is_file()
    print_run_summary(report_run.result, out)
    printed = capsys.readouterr().err
    assert "gbm-met: GBM (predictive index 0.80, cut-off 0.55" in printed
    assert "tumour-type: metastasis (metastasis 81%" in printed and "mets-3d: " in printed
    # the lesion table under the mets-3d line: a header, then one row a lesion with its volume
    table = [line.split() for line in printed.splitlines() if line.startswith("    ")]
    lesions = report_run.result["tasks"]["mets-3d"]["lesions"]
    assert table[0][:3] == ["id", "volume", "mm³"] and len(table) == 1 + len(lesions)
    for row, lesion in zip(table[1:], lesions):
        assert row[0] == str(lesion["id"]) and row[1] == f"{lesion['volume_mm3']:.1f}"
