"""The `braintumorai` command line; bad input ends with one `error:` line and exit status 2."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from .errors import InputError
from .progress import Progress

SEQUENCES = ("t1ce", "t2", "flair", "t1")
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors follow the bad-input contract: one `error:` line, exit status 2
    (argparse's own prints the usage block first)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def _add_sequence_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--t1ce", required=True, help="contrast-enhanced T1 (file or DICOM folder)")
    parser.add_argument("--t2", required=True, help="T2-weighted volume")
    parser.add_argument("--flair", help="FLAIR volume (optional)")
    parser.add_argument("--t1", help="native T1 volume (optional)")


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=("bar", "json", "none"), default=None,
                        help="progress display: a bar on a terminal (default), JSON lines for Slicer, none")


def _add_preprocessing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-bias-correction", action="store_true", help="skip N4 bias-field correction")
    parser.add_argument("--no-registration", action="store_true",
                        help="skip co-registration (inputs already aligned)")
    parser.add_argument("--resample-mm", type=float, default=1.0, help="isotropic grid spacing (0 = keep)")
    parser.add_argument("--brain-extraction", choices=("deepbet", "template", "none"), default=None)
    parser.add_argument("--normalisation", choices=("whitestripe", "zscore", "none"), default=None,
                        help="default: WhiteStripe with the T2 reference (Shin 2021), z-score with T1CE (Jünger 2021)")
    parser.add_argument("--histogram-equalisation", action="store_true",
                        help="per-slice histogram equalisation (Grøvik 2020)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="braintumorai",
        description="BrainTumorAI core: brain-tumour MRI preprocessing and deep-learning tasks "
                    "(research use; bundled weights are demo weights, not for clinical use).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="generate synthetic multi-contrast heads with known truth")
    synth.add_argument("--out", required=True, type=Path)
    synth.add_argument("--kind", default="all", help="a kind, a comma-separated list, or all")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--n", type=int, default=1, help="cases per kind")
    synth.add_argument("--voxel-mm", type=float, default=1.0, help="anatomy grid spacing (2-3 for fast tests)")
    _add_progress(synth)

    preprocess = commands.add_parser("preprocess", help="bias-correct, co-register, skull-strip, resample, normalise")
    _add_sequence_inputs(preprocess)
    preprocess.add_argument("--out", required=True, type=Path)
    preprocess.add_argument("--reference", choices=("t1ce", "t2"), default="t2")
    _add_preprocessing_options(preprocess)
    _add_progress(preprocess)

    run = commands.add_parser("run", help="run the clinical tasks on one case and write result.json")
    _add_sequence_inputs(run)
    run.add_argument("--out", required=True, type=Path)
    run.add_argument("--roi", type=Path, help="Slicer Markups ROI file (.mrk.json)")
    run.add_argument("--roi-ras", help="axis-aligned box RMIN,RMAX,AMIN,AMAX,SMIN,SMAX in RAS mm")
    run.add_argument("--tasks", default="all", help="all, or a comma-separated list of tasks")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _add_progress(run)

    train = commands.add_parser("train", help="k-fold training of a task's model set on your cases")
    train.add_argument("--task", required=True)
    train.add_argument("--data", required=True, type=Path, help="folder of cases (BraTS-style or synthetic) or CSV manifest")
    train.add_argument("--out", required=True, type=Path)
    train.add_argument("--preset", help="training preset (default: the task's paper preset)")
    train.add_argument("--config", type=Path, help="JSON file overriding preset values")
    train.add_argument("--folds", type=int, default=None, help="number of folds (default: the preset's)")
    train.add_argument("--register", action="store_true", help="add the trained model set to your registry")
    _add_progress(train)

    evaluate = commands.add_parser("evaluate", help="statistics of run outputs against known truth")
    evaluate.add_argument("--task", required=True)
    evaluate.add_argument("--pred", required=True, type=Path, help="folder with one run output folder per case")
    evaluate.add_argument("--truth", required=True, type=Path, help="folder of cases or CSV manifest with labels")
    evaluate.add_argument("--out", required=True, type=Path)

    benchmark = commands.add_parser("benchmark", help="time each stage and peak memory, write JSON")
    benchmark.add_argument("--out", required=True, type=Path)
    benchmark.add_argument("--scales", default="1,2", help="voxel-count multiples to measure")

    demo = commands.add_parser("demo", help="run the main job on the bundled demo case")
    demo.add_argument("--out", type=Path, default=Path("demo_output"))
    _add_progress(demo)
    return parser


def _normalise_negative_values(argv: list[str]) -> list[str]:
    """Join `--roi-ras -40,...` into `--roi-ras=-40,...`: argparse would take the value for an option."""
    joined, i = [], 0
    while i < len(argv):
        if argv[i] == "--roi-ras" and i + 1 < len(argv):
            joined.append(f"--roi-ras={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    return joined


def _progress_for(args) -> Progress:
    mode = getattr(args, "progress", None) or ("bar" if sys.stderr.isatty() else "none")
    return Progress(mode)


def _cmd_synth(args) -> None:
    from .synthetic import KINDS, make_cohort

    kinds = list(KINDS) if args.kind == "all" else [k.strip() for k in args.kind.split(",")]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InputError(f"unknown synthetic kind {', '.join(unknown)} (choose from {', '.join(KINDS)})")
    progress = _progress_for(args)
    cases = make_cohort(args.out, kinds, args.n, args.seed, voxel_mm=args.voxel_mm, progress=progress)
    progress.close()
    for case in cases:
        print(case)


def preprocess_options(args):
    from .preprocessing import PreprocessOptions

    overrides = {
        "reference": args.reference,
        "bias_correction": not args.no_bias_correction,
        "registration": not args.no_registration,
        "resample_mm": args.resample_mm or None,
        "histogram_equalisation": args.histogram_equalisation,
    }
    if args.brain_extraction:
        overrides["brain_extraction"] = args.brain_extraction
    if args.normalisation:
        overrides["normalisation"] = args.normalisation
    return PreprocessOptions(**overrides)


def read_sequences(args) -> dict:
    """Read and validate every given sequence before any work starts."""
    from .image import read_image

    return {name: read_image(getattr(args, name), name) for name in SEQUENCES if getattr(args, name, None)}


def _cmd_preprocess(args) -> None:
    from .outputs import staged_output
    from .preprocessing import preprocess

    options = preprocess_options(args)
    images = read_sequences(args)
    progress = _progress_for(args)
    case = preprocess(images, options, progress=progress)
    with staged_output(args.out) as staging:
        case.write(staging)
    progress.close()
    print(f"preprocessed images, brain mask and preprocessing.json in {args.out}")


def _cmd_run(args) -> None:
    from .roi import load_roi
    from .report_text import print_run_summary
    from .runner import run_case, write_run

    roi = load_roi(args.roi, args.roi_ras)
    images = read_sequences(args)
    if roi is not None:
        for name in ("t2", "t1ce"):  # every task's grid is one of these: refuse before any preprocessing
            roi.voxel_box(images[name], name)
    progress = _progress_for(args)
    run = run_case(images, roi, tasks=args.tasks, device=args.device, progress=progress,
                   case_id=Path(args.t1ce).resolve().parent.name)
    write_run(run, args.out)
    progress.update("done", 1.0, f"results in {args.out}")
    progress.close()
    print_run_summary(run.result, args.out)


def _cmd_train(args) -> None:
    from . import tasks  # noqa: F401 - registers every task's training adapter
    from .training import train_command
    from .training.registration import register_model_set

    report = train_command(task=args.task, data=args.data, out=args.out, preset=args.preset, folds=args.folds,
                           config_path=args.config, progress=_progress_for(args))
    if report is None:  # not the main process of a torchrun launch
        return
    print(f"training report: {args.out}/training_report.json")
    if args.register:
        model_set = register_model_set(report, args.out)
        print(f"registered model set {model_set.name} for {model_set.task}")


def _cmd_evaluate(args) -> None:
    from .evaluation import evaluate_command

    report = evaluate_command(args.task, args.pred, args.truth, args.out)
    metrics = report["metrics"]
    if "figures" in metrics:  # lesion-wise (metastasis tasks)
        figures = metrics["figures"]
        summary = (f"lesion sensitivity {figures['sensitivity']:.3f}, {figures['false_positives_per_case']:.2f} "
                   f"false positives per case, median lesion Dice {figures['median_lesion_dice']:.3f}")
    elif "per_class" in metrics:  # tumour-type
        summary = f"accuracy {metrics['accuracy']:.3f}, " + ", ".join(
            f"{c['name']} sensitivity {c['sensitivity']:.2f}" for c in metrics["per_class"] if c["sensitivity"] is not None)
    else:
        summary = f"AUC {metrics['auc']:.3f}, accuracy {metrics['accuracy']:.3f}"
    print(f"{args.task}: {report['n_cases']} cases, {summary}; report in {args.out}/evaluation.json")


def _cmd_benchmark(args) -> None:
    from .benchmark import run_benchmark

    scales = [float(s) for s in args.scales.split(",")]
    report = run_benchmark(args.out, scales=scales)
    print(json.dumps(report["summary"], indent=2))
    print(f"benchmark written to {args.out}")


def _cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, progress=_progress_for(args))


COMMANDS = {
    "synth": _cmd_synth,
    "preprocess": _cmd_preprocess,
    "run": _cmd_run,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "benchmark": _cmd_benchmark,
    "demo": _cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    argv = _normalise_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s: %(message)s")
    if not args.debug:
        import SimpleITK as sitk

        # ITK's C++ warnings are multi-line and name source files; --debug shows them
        sitk.ProcessObject.SetGlobalWarningDisplay(False)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="monai")
    try:
        COMMANDS[args.command](args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
