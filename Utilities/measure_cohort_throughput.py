"""Cohort-scale figures as JSON: separate `run` processes vs one `batch`, Ray with 1 vs 2 nodes,
and one-click runs alone vs two at once on a clinical-size head.

    .venv/bin/python Utilities/measure_cohort_throughput.py --out cohort_throughput.json
    .venv/bin/python Utilities/measure_cohort_throughput.py --sections contention --out contention.json

Sections (each writes its figures and the load average before and after, since a shared
machine's other work changes every number):
- batch: `--cases` synthetic heads at `--voxel-mm`; wall time of one `run` process per case,
  one after another (a shell loop), against one `batch` over the same manifest.
- ray: `batch --ray` over `--ray-cases` cases on a loopback cluster of one, then two, one-CPU
  nodes (Testing/cli/ray_cluster.py); the ratio of the throughputs.
- contention: a 1 mm synthetic head padded to a clinical field of view (T1CE 250x292x255, T2
  resampled to 0.5 x 0.5 x 5 mm), `run --tasks all` alone and then two at once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "BrainTumorAI"))
sys.path.insert(0, str(ROOT / "Testing" / "cli"))

from BrainTumorAILib.synthetic import KINDS, load_truth, make_case  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "BrainTumorAI"), os.environ.get("PYTHONPATH", "")]),
       "PYTHONUTF8": "1"}
CLINICAL_T1CE_SIZE = (250, 292, 255)
CLINICAL_T2_SPACING = (0.5, 0.5, 5.0)


def braintumorai(*args) -> float:
    """Wall seconds of one `python -m BrainTumorAILib ARGS` (raises when it fails)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "BrainTumorAILib", *map(str, args)], check=True, env=ENV,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def cohort(folder: Path, n: int, voxel_mm: float) -> Path:
    """n synthetic heads (kinds in turn) and a CSV manifest of their T1CE, T2 and FLAIR."""
    rows = []
    for index in range(n):
        case = make_case(folder / "cases", KINDS[index % len(KINDS)], 100 + index, voxel_mm=voxel_mm)
        rows.append({"case_id": case.name, "patient_id": case.name,
                     **{s: case / f"{s}.nii.gz" for s in ("t1ce", "t2", "flair")}})
    return write_manifest(rows, folder / "manifest.csv")


def write_manifest(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def manifest_rows(manifest: Path) -> list[dict]:
    with open(manifest, newline="") as handle:
        return list(csv.DictReader(handle))


def measure_batch(work: Path, manifest: Path, tasks: str) -> dict:
    rows = manifest_rows(manifest)
    before = load()
    separate = 0.0
    for row in rows:
        separate += braintumorai("run", "--t1ce", row["t1ce"], "--t2", row["t2"], "--flair", row["flair"],
                                 "--tasks", tasks, "--device", "cpu", "--out", work / "separate" / row["case_id"])
    batch = braintumorai("batch", "--data", manifest, "--out", work / "batch", "--tasks", tasks, "--device", "cpu",
                         "--progress", "none")
    return {"cases": len(rows), "tasks": tasks, "separate_run_processes_s": round(separate, 1),
            "batch_s": round(batch, 1), "throughput_ratio_batch_vs_separate": round(separate / batch, 3),
            "load_average_before": before, "load_average_after": load()}


def measure_ray(work: Path, manifest: Path, tasks: str) -> dict:
    from ray_cluster import LoopbackRayCluster

    report = {"cases": len(manifest_rows(manifest)), "tasks": tasks}
    for nodes in (1, 2):
        with LoopbackRayCluster(nodes=nodes) as cluster:
            before = load()
            seconds = braintumorai("batch", "--data", manifest, "--out", work / f"ray{nodes}", "--tasks", tasks,
                                   "--device", "cpu", "--ray", cluster.address, "--progress", "none")
        report[f"nodes_{nodes}"] = {"seconds": round(seconds, 1), "load_average_before": before,
                                    "load_average_after": load()}
    report["throughput_ratio_2_vs_1"] = round(report["nodes_1"]["seconds"] / report["nodes_2"]["seconds"], 3)
    return report


def clinical_size_case(work: Path) -> tuple[Path, list[float]]:
    """A 1 mm synthetic head padded to a clinical T1CE field of view, its T2 at 0.5 x 0.5 x 5 mm."""
    source = make_case(work / "source", "metastases", 4, voxel_mm=1.0)
    target = work / "clinical"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("t1ce", "t2", "flair", "t1"):
        image = sitk.ReadImage(str(source / f"{name}.nii.gz"))
        if name == "t2":
            size = [int(round(n * s / c)) for n, s, c in zip(image.GetSize(), image.GetSpacing(), CLINICAL_T2_SPACING)]
            image = sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(),
                                  CLINICAL_T2_SPACING, image.GetDirection(), 0.0, image.GetPixelID())
        elif name == "t1ce":
            extra = [max(0, c - n) for c, n in zip(CLINICAL_T1CE_SIZE, image.GetSize())]
            image = sitk.ConstantPad(image, [e // 2 for e in extra], [e - e // 2 for e in extra], 0)
        sitk.WriteImage(image, str(target / f"{name}.nii.gz"))
    return target, load_truth(source)["roi_ras_by_sequence"]["t2"]


def measure_contention(work: Path) -> dict:
    case, roi = clinical_size_case(work)
    arguments = ["run", *[a for s in ("t1ce", "t2", "flair", "t1") for a in (f"--{s}", case / f"{s}.nii.gz")],
                 f"--roi-ras={','.join(f'{v:g}' for v in roi)}", "--device", "cpu", "--progress", "none"]
    before = load()
    alone = braintumorai(*arguments, "--out", work / "alone")
    alone_stages = json.loads((work / "alone" / "result.json").read_text())["timings_s"]
    after_alone = load()
    command = [sys.executable, "-m", "BrainTumorAILib", *map(str, arguments)]
    start = time.perf_counter()
    pair = [subprocess.Popen([*command, "--out", str(work / f"pair{i}")], env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE) for i in (1, 2)]
    finished = []
    for process in pair:
        process.wait()
        if process.returncode:
            raise RuntimeError(process.stderr.read().decode())
        finished.append(time.perf_counter() - start)
    return {"t1ce_size": list(CLINICAL_T1CE_SIZE), "t2_spacing_mm": list(CLINICAL_T2_SPACING),
            "alone_s": round(alone, 1), "alone_stages_s": alone_stages, "load_average_before_alone": before,
            "load_average_after_alone": after_alone,
            "two_at_once_s": [round(s, 1) for s in finished],
            "two_at_once_ratio_to_alone": [round(s / alone, 3) for s in finished], "load_average_after_pair": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sections", default="batch,ray,contention")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--ray-cases", type=int, default=8)
    parser.add_argument("--voxel-mm", type=float, default=3.0)
    parser.add_argument("--tasks", default="tumour-type")
    args = parser.parse_args()
    sections = args.sections.split(",")
    report = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cohort-throughput-") as tmp:
        work = Path(tmp)
        if "batch" in sections or "ray" in sections:
            manifest = cohort(work / "cohort", max(args.cases, args.ray_cases), args.voxel_mm)
        if "batch" in sections:
            subset = write_manifest(manifest_rows(manifest)[:args.cases], work / "batch.csv")
            report["batch"] = measure_batch(work / "batch-out", subset, args.tasks)
        if "ray" in sections:
            subset = write_manifest(manifest_rows(manifest)[:args.ray_cases], work / "ray.csv")
            report["ray"] = measure_ray(work / "ray-out", subset, args.tasks)
        if "contention" in sections:
            report["contention"] = measure_contention(work / "contention")
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
