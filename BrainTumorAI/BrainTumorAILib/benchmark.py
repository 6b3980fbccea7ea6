"""`braintumorai benchmark`: seconds per stage and peak memory on synthetic cases, as JSON.

Each voxel scale runs in its own process so peak memory is that scale's alone. Scale s means
s times the voxels of the 1 mm case: anatomy, acquisitions and the output grid all get
spacings divided by s^(1/3).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import SimpleITK as sitk

BENCHMARK_KIND = "gbm"
BENCHMARK_SEED = 11


class PeakMemory:
    """Samples this process's resident memory in a thread; `peak_mb` is the highest seen."""

    def __init__(self, interval_s: float = 0.02):
        self.interval_s, self.peak = interval_s, 0
        self._process, self._stop = psutil.Process(), threading.Event()

    def __enter__(self):
        self.peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def measure_preprocessing(scale: float, work_dir: Path) -> dict:
    """Preprocess one synthetic 3-sequence case at `scale` x the 1 mm voxel count."""
    from .image import read_image
    from .preprocessing import PreprocessOptions, preprocess, registration_error_mm, resample_mask
    from .synthetic import load_truth, make_case, true_transform

    voxel_mm = 1.0 / scale ** (1 / 3)
    # The phantom generator stops at 1 mm: finer scales resample its acquisitions onto denser grids.
    case_dir = make_case(work_dir, BENCHMARK_KIND, BENCHMARK_SEED, voxel_mm=1.0)
    truth = load_truth(case_dir)
    report = {"scale": scale, "voxel_mm": round(voxel_mm, 4)}
    for reference in ("t2", "t1ce"):
        images = {name: _denser(read_image(case_dir / f"{name}.nii.gz", name), scale)
                  for name in ("t1ce", "t2", "flair")}
        options = PreprocessOptions(reference=reference, resample_mm=voxel_mm)
        with PeakMemory() as memory:
            start = time.perf_counter()
            case = preprocess(images, options)
            elapsed = time.perf_counter() - start
        brain_truth = read_image(case_dir / "truth" / f"brain_{reference}.nii.gz", "brain truth")
        brain_truth = resample_mask(brain_truth, case.brain_mask)
        points = _brain_points(brain_truth)
        errors = {name: round(registration_error_mm(case.transforms[name], true_transform(truth, reference, name), points), 3)
                  for name in images if name != reference}
        report[f"reference_{reference}"] = {
            "seconds": round(elapsed, 2), "stages_s": case.timings_s, "peak_memory_mb": memory.peak_mb,
            "input_voxels": {n: int(np.prod(i.GetSize())) for n, i in images.items()},
            "grid_voxels": int(np.prod(case.brain_mask.GetSize())),
            "registration_error_max_mm": errors,
            "brain_mask_dice": round(_dice(sitk.GetArrayViewFromImage(case.brain_mask),
                                           sitk.GetArrayViewFromImage(brain_truth)), 4),
        }
    return report


def _denser(image: sitk.Image, scale: float) -> sitk.Image:
    """The image on a grid with `scale` times the voxels over the same field of view."""
    if scale == 1.0:
        return image
    factor = scale ** (1 / 3)
    size = [max(1, round(n * factor)) for n in image.GetSize()]
    spacing = [sp * n / m for sp, n, m in zip(image.GetSpacing(), image.GetSize(), size)]
    # keep the first voxel's outer corner where it was: shift the origin by half the spacing change
    offset = np.array(image.GetDirection()).reshape(3, 3) @ ((np.array(spacing) - image.GetSpacing()) / 2)
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, tuple(np.array(image.GetOrigin()) + offset),
                         spacing, image.GetDirection(), 0.0, image.GetPixelID())


def _brain_points(mask: sitk.Image, n: int = 5000) -> np.ndarray:
    """Physical (LPS) points of up to n brain voxels, evenly subsampled."""
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(mask))
    step = max(1, len(i) // n)
    index = np.stack([i[::step], j[::step], k[::step]], axis=1)
    return np.array([mask.TransformIndexToPhysicalPoint(tuple(int(v) for v in idx)) for idx in index])


BRAIN_EXTRACTION_CASES = (("gbm", 21), ("meningioma", 22), ("metastases", 23))


def measure_brain_extraction(work_dir: Path) -> dict:
    """deepbet vs MNI152-template registration on T1CE of 1 mm cases: Dice against truth and seconds.

    The phantoms are built on the MNI152 anatomy, which flatters the template method; deepbet
    must earn its Dice from the image alone.
    """
    from .image import read_image
    from .preprocessing import extract_brain, resample_mask
    from .synthetic import make_case

    results = {}
    for kind, seed in BRAIN_EXTRACTION_CASES:
        case_dir = make_case(work_dir, kind, seed, voxel_mm=1.0)
        image = read_image(case_dir / "t1ce.nii.gz", "t1ce")
        truth = read_image(case_dir / "truth" / "brain_t1ce.nii.gz", "brain truth")
        for method in ("deepbet", "template"):
            start = time.perf_counter()
            mask = resample_mask(extract_brain(image, method), truth)
            seconds = time.perf_counter() - start
            results.setdefault(method, []).append({
                "case": case_dir.name, "seconds": round(seconds, 2),
                "dice": round(_dice(sitk.GetArrayViewFromImage(mask), sitk.GetArrayViewFromImage(truth)), 4)})
    return {method: {"cases": rows, "mean_dice": round(float(np.mean([r["dice"] for r in rows])), 4),
                     "mean_seconds": round(float(np.mean([r["seconds"] for r in rows])), 2)}
            for method, rows in results.items()}


def measure_one_click(work_dir: Path) -> dict:
    """`run --tasks all` (every installed task) on the 3-sequence 1 mm case with its ROI, CPU, cold."""
    from .image import read_image
    from .roi import BoxROI
    from .runner import run_case
    from .synthetic import load_truth, make_case

    case_dir = make_case(work_dir, BENCHMARK_KIND, BENCHMARK_SEED, voxel_mm=1.0)
    roi = BoxROI.from_ras_bounds(load_truth(case_dir)["roi_ras_by_sequence"]["t2"])
    images = {name: read_image(case_dir / f"{name}.nii.gz", name) for name in ("t1ce", "t2", "flair")}
    with PeakMemory() as memory:
        start = time.perf_counter()
        run = run_case(images, roi, tasks="all", device="cpu")
        elapsed = time.perf_counter() - start
    stages = {k: v for k, v in run.result["timings_s"].items() if k != "total"}
    slowest = max(stages, key=stages.get)
    return {"seconds": round(elapsed, 2), "peak_memory_mb": memory.peak_mb, "stages_s": stages,
            "dicom_export_s": measure_dicom_export(run, case_dir, work_dir / "dicom"),
            # inside each preprocess_<reference>: N4, registration, brain extraction, resampling, ...
            "preprocessing_stages_s": {ref: case.timings_s for ref, case in run.preprocessed.items()},
            "stage_share": {k: round(v / elapsed, 3) for k, v in stages.items()}, "slowest_stage": slowest,
            "tasks_run": sorted(run.result["tasks"]), "notes": run.result["notes"],
            "results": {task: _headline(entry) for task, entry in run.result["tasks"].items()}}


def measure_dicom_export(run, case_dir: Path, work_dir: Path) -> float:
    """Seconds to write every DICOM object of a finished run (`run --dicom-out`), its T1CE and T2
    first written as MR series (the run's images are on their grids)."""
    from .dicom.export import export_dicom
    from .dicom.mr_writer import write_case_study
    from .dicom.series import read_folder

    write_case_study(case_dir, work_dir / "inputs")
    sources = {name: read_folder(work_dir / "inputs" / name, name) for name in ("t1ce", "t2")}
    return export_dicom(run.result, run.images, sources, work_dir / "objects")["seconds"]


def _headline(entry: dict) -> dict:
    """The scalar answers of a task's result entry (prediction, index, counts, label)."""
    return {k: v for k, v in entry.items() if isinstance(v, (str, int, float, bool)) and k != "notice"}


def _in_child(function, *args):
    """Run function(*args) in a fresh process (spawned) and return its result."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def run_benchmark(out_path, scales=(1.0, 2.0)) -> dict:
    """Measure and write the benchmark JSON; returns it."""
    from .benchmark_networks import PAPER_NETWORKS, measure_paper_network
    from .threads import available_cores

    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="braintumorai-bench-") as tmp:
        scale_reports = [_in_child(measure_preprocessing, s, Path(tmp) / f"scale{s}") for s in scales]
        brain_extraction = _in_child(measure_brain_extraction, Path(tmp) / "brain-extraction")
        one_click = _in_child(measure_one_click, Path(tmp) / "one-click")
    paper_networks = {task: _in_child(measure_paper_network, task) for task in PAPER_NETWORKS}
    summary = {"preprocessing_s": {f"x{r['scale']:g}": r["reference_t2"]["seconds"] for r in scale_reports},
               "preprocessing_peak_mb": max(r["reference_t2"]["peak_memory_mb"] for r in scale_reports),
               "registration_error_max_mm": scale_reports[0]["reference_t2"]["registration_error_max_mm"],
               "brain_mask_dice": scale_reports[0]["reference_t2"]["brain_mask_dice"],
               "one_click_s": one_click["seconds"], "one_click_peak_mb": one_click["peak_memory_mb"],
               "one_click_slowest_stage": one_click["slowest_stage"],
               "dicom_export_s": one_click["dicom_export_s"],
               "paper_network_s_per_case": {task: r["seconds_per_case"] for task, r in paper_networks.items()},
               "paper_network_peak_mb": {task: r["peak_memory_mb"] for task, r in paper_networks.items()}}
    if len(scale_reports) > 1:
        base = scale_reports[0]["reference_t2"]["seconds"]
        summary["time_ratio_largest_vs_first"] = round(scale_reports[-1]["reference_t2"]["seconds"] / base, 3)
    # a shared machine's other work slows every stage: the load average says how busy it was
    report = {"machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                          "python": platform.python_version(), "threads": available_cores(),
                          "load_average_before": load_before,
                          "load_average_after": [round(v, 2) for v in os.getloadavg()]},
              "preprocessing": scale_reports, "brain_extraction": brain_extraction, "one_click": one_click,
              "paper_networks": paper_networks, "summary": summary}
    Path(out_path).write_text(json.dumps(report, indent=2))
    return report
