"""Make Resources/Screenshots/BrainTumorAI-panel.png from the panel's .ui and a finished demo run.

Real Slicer cannot run on the build machine, so this is not a capture of Slicer: the panel is
Resources/UI/BrainTumorAI.ui rendered by Qt off-screen, with Slicer's MRML widgets replaced by
their plain Qt look-alikes and filled in as the Widget fills them (task boxes from the catalog,
results text from BrainTumorAISlicer.result_summary); beside it, the run's key slices as the
report draws them. The README says so under the image.

Needs PySide6 (`pip install PySide6-Essentials`, not a project dependency) and a demo run:
    make demo && QT_QPA_PLATFORM=offscreen .venv/bin/python Utilities/render_screenshot.py
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

import SimpleITK as sitk
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "BrainTumorAI"))

from BrainTumorAILib.catalog import task_specs  # noqa: E402
from BrainTumorAILib.report.images import choose_key_slices, cut_axial_slice, render_axial_slice  # noqa: E402
from BrainTumorAILib.roi import BoxROI  # noqa: E402


def _load_result_summary():
    """BrainTumorAISlicer.result_summary alone: importing its package loads slicer-core's VTK,
    whose libraries crash a PySide6 QApplication in the same process."""
    import importlib.util

    path = ROOT / "BrainTumorAI" / "BrainTumorAISlicer" / "result_summary.py"
    spec = importlib.util.spec_from_file_location("result_summary", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module.summarize


summarize = _load_result_summary()

# Slicer's widgets -> the plain Qt widget they look like (QUiLoader knows only Qt's own classes).
STAND_INS = {"qMRMLWidget": "QWidget", "ctkCollapsibleButton": "QGroupBox", "qMRMLNodeComboBox": "QComboBox",
             "qSlicerMarkupsPlaceWidget": "QPushButton"}
SELECTOR_NODES = {"t1ceSelector": "demo t1ce", "t2Selector": "demo t2", "flairSelector": "demo flair",
                  "t1Selector": "demo t1", "roiSelector": "tumour ROI"}


def render_panel(result: dict) -> Image.Image:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QGroupBox, QLabel, QProgressBar, QPushButton, QWidget

    app = QApplication.instance() or QApplication([])
    text = (ROOT / "Resources" / "UI" / "BrainTumorAI.ui").read_text(encoding="utf-8")
    for slicer_class, qt_class in STAND_INS.items():
        text = text.replace(f'class="{slicer_class}"', f'class="{qt_class}"')
    text = re.sub(r"<customwidgets>.*?</customwidgets>", "", text, flags=re.S)
    ui_bytes = QByteArray(text.encode("utf-8"))  # kept alive: Qt reads it while loading
    buffer = QBuffer(ui_bytes)
    buffer.open(QIODevice.ReadOnly)
    loader = QUiLoader()
    panel = loader.load(buffer)
    for name, node in SELECTOR_NODES.items():
        combo = panel.findChild(QComboBox, name)
        if combo is not None:
            combo.addItem(node)
    for group in panel.findChildren(QGroupBox):
        group.setFlat(False)
    tasks_frame = panel.findChild(QWidget, "tasksFrame")
    for name, info in task_specs().items():
        box = QCheckBox(info.title)
        box.setChecked(name in result.get("tasks", {}))
        tasks_frame.layout().addWidget(box)
    device = panel.findChild(QComboBox, "deviceComboBox")
    for label in ("Auto (GPU when available)", "GPU (CUDA)", "CPU"):
        device.addItem(label)
    summary = summarize(result)
    for name, value in (("verdictLabel", summary.verdict), ("probabilitiesLabel", summary.probabilities),
                        ("lesionsLabel", summary.lesions), ("modelSetsLabel", summary.model_sets),
                        ("qualityLabel", summary.quality), ("answerChecksLabel", summary.answer_checks),
                        ("statusLabel", "Done. Files: demo_output/run")):
        label = panel.findChild(QLabel, name)
        if label is not None:
            label.setText(value)
    panel.findChild(QProgressBar, "progressBar").setValue(100)
    panel.findChild(QPushButton, "applyButton").setText("Run")
    panel.resize(460, max(panel.sizeHint().height(), 900))
    pixmap = panel.grab()
    data = QByteArray()
    target = QBuffer(data)
    target.open(QIODevice.WriteOnly)
    pixmap.save(target, "PNG")
    return Image.open(io.BytesIO(bytes(data))).convert("RGB")


def render_views(run_dir: Path, case_dir: Path, result: dict) -> Image.Image:
    """The T2 with the gbm-met CAM and the T1CE with the lesion outlines, as the report cuts them."""
    roi = BoxROI.from_markups_json(case_dir / "roi.mrk.json")
    views = []
    for task, sequence, kind in (("gbm-met", "t2", "cam"), ("mets-3d", "t1ce", "seg"), ("tumour-type", "t1ce", "cam")):
        path = run_dir / f"{task}_{kind}.nii.gz"
        if not path.is_file():
            continue
        background = sitk.ReadImage(str(case_dir / f"{sequence}.nii.gz"))
        image = sitk.ReadImage(str(path))
        lesions = result["tasks"].get(task, {}).get("lesions", [])
        rows = [{**row, "centroid_s": row["centroid_ras"][2]} for row in lesions if row.get("centroid_ras")]
        heat = image if kind == "cam" else None
        key = choose_key_slices(background, heat=heat, roi=roi if task == "gbm-met" else None, lesions=rows)[0]
        cut = cut_axial_slice(key.s_ras, background, background=background, heat=heat,
                              labels=image if kind == "seg" else None, roi=roi if task == "gbm-met" else None)
        views.append(Image.open(io.BytesIO(render_axial_slice(cut, f"{task}: {sequence.upper()} {key.reason}",
                                                              "activation" if kind == "cam" else "map"))))
    width = max(v.width for v in views)
    canvas = Image.new("RGB", (width, sum(v.height for v in views)), "white")
    y = 0
    for view in views:
        canvas.paste(view, (0, y))
        y += view.height
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--out", type=Path, default=ROOT / "Resources" / "Screenshots" / "BrainTumorAI-panel.png")
    args = parser.parse_args()
    run_dir = args.demo / "run"
    case_dir = next((args.demo / "case").iterdir())
    result = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    panel, views = render_panel(result), render_views(run_dir, case_dir, result)
    scale = panel.height / views.height
    views = views.resize((int(views.width * scale), panel.height)) if scale < 1 else views
    canvas = Image.new("RGB", (panel.width + views.width + 10, max(panel.height, views.height)), "white")
    canvas.paste(panel, (0, 0))
    canvas.paste(views, (panel.width + 10, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out} ({canvas.width} x {canvas.height})")


if __name__ == "__main__":
    main()
