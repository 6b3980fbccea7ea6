"""Index training cases from BraTS-style folders, synthetic cohorts or a CSV manifest.

A case is one scan session: its sequences, optional segmentation and ROI, a label for the
task and the patient it belongs to (folds split by patient, never by case or slice).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..roi import BoxROI

SEQUENCES = ("t1ce", "t2", "flair", "t1")
MANIFEST_REQUIRED = ("case_id", "patient_id")
MANIFEST_COLUMNS = MANIFEST_REQUIRED + ("label",) + SEQUENCES + ("seg", "roi_ras", "truth")

# BraTS file suffixes per sequence: 2023 challenge (`<case>-t1c.nii.gz`) and 2021 (`<case>_t1ce.nii.gz`).
BRATS_NAMINGS = (
    {"separator": "-", "t1ce": "t1c", "t2": "t2w", "flair": "t2f", "t1": "t1n", "seg": "seg"},
    {"separator": "_", "t1ce": "t1ce", "t2": "t2", "flair": "flair", "t1": "t1", "seg": "seg"},
)
# BraTS 2023 case names end in a 3-digit time point (BraTS-GLI-00000-001): same patient.
BRATS_TIMEPOINT = re.compile(r"^(BraTS-[A-Za-z]+-\d+)-\d{3}$")
NIFTI_SUFFIXES = (".nii.gz", ".nii")

# Synthetic cohorts (BrainTumorAILib.synthetic): `<case>/truth.json` beside the sequences.
SYNTHETIC_TRUTH = "truth.json"
SYNTHETIC_SEG = Path("truth") / "seg_t1ce.nii.gz"
SYNTHETIC_LABEL_KEYS = ("gbm_met_label", "tumour_type")


@dataclass(frozen=True)
class Case:
    """One scan session of one patient; `label` is None where the task has none (e.g. healthy)."""

    case_id: str
    patient_id: str
    label: str | None
    sequences: dict[str, Path] = field(default_factory=dict)
    seg: Path | None = None
    roi_ras: list[float] | None = None
    truth: Path | None = None


def index_cases(path, label_key: str = "gbm_met_label") -> list[Case]:
    """Cases from a CSV manifest or a folder of case folders (BraTS-style or synthetic).

    `label_key` picks which truth.json field labels a synthetic case (the task decides).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return index_manifest(path)
    if path.is_dir():
        return index_folder(path, label_key)
    raise InputError(f"training data {path}: expected a folder of cases or a .csv manifest")


def index_folder(root, label_key: str = "gbm_met_label") -> list[Case]:
    """Every sub-folder of `root` is a case: synthetic when it holds truth.json, else BraTS
    (`<case>/<case>-t1c.nii.gz`, `-t1n`, `-t2w`, `-t2f`, optional `-seg`; or the 2021 names)."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    cases = [_synthetic_case(f, label_key) if (f / SYNTHETIC_TRUTH).is_file() else _brats_case(f) for f in folders]
    return _checked(cases, root)


def index_manifest(csv_path) -> list[Case]:
    """Cases from a CSV with columns case_id, patient_id[, label, t1ce, t2, flair, t1, seg, roi_ras, truth].

    Relative paths are relative to the CSV's folder; an empty cell means "not available";
    roi_ras holds six numbers RMIN,RMAX,AMIN,AMAX,SMIN,SMAX (quoted, or separated by ; or spaces).
    """
    csv_path = Path(csv_path)
    with open(csv_path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = [c.strip() for c in reader.fieldnames or []]
        unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
        if unknown:
            raise InputError(f"manifest {csv_path.name}: unknown column(s) {', '.join(unknown)} "
                             f"(allowed: {', '.join(MANIFEST_COLUMNS)})")
        missing = [c for c in MANIFEST_REQUIRED if c not in columns]
        if missing:
            raise InputError(f"manifest {csv_path.name}: missing column(s) {', '.join(missing)}")
        if not set(SEQUENCES) & set(columns):
            raise InputError(f"manifest {csv_path.name}: no sequence column (one of {', '.join(SEQUENCES)})")
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise InputError(f"manifest {csv_path.name} line {line}: more cells than columns")
    cases = [_manifest_case({k.strip(): (v or "").strip() for k, v in row.items()}, line, csv_path)
             for line, row in enumerate(rows, start=2)]
    return _checked(cases, csv_path)


def require_sequences(cases: list[Case], names) -> None:
    """Raise InputError naming the first cases that lack a sequence the task needs."""
    lacking = [f"{case.case_id} ({', '.join(n for n in names if n not in case.sequences)})"
               for case in cases if any(n not in case.sequences for n in names)]
    if lacking:
        more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
        raise InputError(f"cases without required sequence(s): {'; '.join(lacking[:3])}{more}")


def _brats_case(folder: Path) -> Case:
    name = folder.name
    for naming in BRATS_NAMINGS:
        files = {key: _nifti(folder, f"{name}{naming['separator']}{suffix}")
                 for key, suffix in naming.items() if key != "separator"}
        if any(files[s] for s in SEQUENCES):
            break
    else:
        raise InputError(f"case folder {folder}: neither BraTS files ({name}-t1c.nii.gz, ...) nor {SYNTHETIC_TRUTH}")
    missing = [s for s in SEQUENCES if files[s] is None]
    if missing:
        raise InputError(f"BraTS case {name}: missing {', '.join(missing)} "
                         f"(expected {name}{naming['separator']}{naming[missing[0]]}.nii.gz)")
    timepoint = BRATS_TIMEPOINT.match(name)
    return Case(case_id=name, patient_id=timepoint.group(1) if timepoint else name, label=None,
                sequences={s: files[s] for s in SEQUENCES}, seg=files["seg"])


def _nifti(folder: Path, stem: str) -> Path | None:
    candidates = (folder / f"{stem}{suffix}" for suffix in NIFTI_SUFFIXES)
    return next((path for path in candidates if path.is_file()), None)


def _synthetic_case(folder: Path, label_key: str) -> Case:
    if label_key not in SYNTHETIC_LABEL_KEYS:
        raise ValueError(f"label_key must be one of {SYNTHETIC_LABEL_KEYS}, not {label_key!r}")
    truth_path = folder / SYNTHETIC_TRUTH
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"synthetic case {folder.name}: unreadable {SYNTHETIC_TRUTH} ({error})") from None
    absent = [key for key in (*SYNTHETIC_LABEL_KEYS, "roi_ras") if key not in truth]
    if absent:
        raise InputError(f"synthetic case {folder.name}: {SYNTHETIC_TRUTH} lacks {', '.join(absent)}")
    missing = [s for s in SEQUENCES if _nifti(folder, s) is None]
    if missing:
        raise InputError(f"synthetic case {folder.name}: missing {', '.join(f'{s}.nii.gz' for s in missing)}")
    seg = folder / SYNTHETIC_SEG
    label = truth[label_key]
    return Case(case_id=folder.name, patient_id=folder.name, label=None if label is None else str(label),
                sequences={s: _nifti(folder, s) for s in SEQUENCES}, seg=seg if seg.is_file() else None,
                roi_ras=_roi(_drawn_roi(truth), f"synthetic case {folder.name}"), truth=truth_path)


def _drawn_roi(truth: dict) -> list[float]:
    """The ROI as a reader draws it on the T2 (the gbm-met reference), in that image's RAS.

    Each synthetic sequence has its own head pose, so the world-frame box would miss the lesion.
    """
    return (truth.get("roi_ras_by_sequence") or {}).get("t2", truth["roi_ras"])  # None for healthy heads


def _manifest_case(row: dict, line: int, csv_path: Path) -> Case:
    where = f"manifest {csv_path.name} line {line}"
    if not row.get("case_id") or not row.get("patient_id"):
        raise InputError(f"{where}: case_id and patient_id must not be empty")

    def existing(column: str) -> Path | None:
        if not row.get(column):
            return None
        path = Path(row[column]).expanduser()
        path = path if path.is_absolute() else csv_path.parent / path
        if not path.exists():
            raise InputError(f"{where}: {column} file not found: {path}")
        return path

    sequences = {s: existing(s) for s in SEQUENCES if row.get(s)}
    if not sequences:
        raise InputError(f"{where}: case {row['case_id']} has no sequence file")
    roi = row.get("roi_ras")
    return Case(case_id=row["case_id"], patient_id=row["patient_id"], label=row.get("label") or None,
                sequences=sequences, seg=existing("seg"), truth=existing("truth"),
                roi_ras=_roi(re.split(r"[,;\s]+", roi), where) if roi else None)


def _roi(values, where: str) -> list[float] | None:
    if values is None:
        return None
    try:
        bounds = [float(v) for v in values]
        BoxROI.from_ras_bounds(bounds)  # six finite numbers, each max above its min
    except (TypeError, ValueError, InputError) as error:
        raise InputError(f"{where}: roi_ras must be RMIN,RMAX,AMIN,AMAX,SMIN,SMAX ({error})") from None
    return bounds


def _checked(cases: list[Case], source: Path) -> list[Case]:
    if not cases:
        raise InputError(f"no cases found in {source}")
    duplicated = sorted(k for k, n in Counter(case.case_id for case in cases).items() if n > 1)
    if duplicated:
        raise InputError(f"{source}: duplicate case_id(s) {', '.join(duplicated[:5])}")
    return cases
