"""The `braintumorai` command line; bad input ends with one `error:` line and exit status 2."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import warnings
from pathlib import Path

from .catalog import DEVICES, SEQUENCES
from .errors import InputError
from .progress import Progress

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors follow the bad-input contract: one `error:` line, exit status 2
    (argparse's own prints the usage block first)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def _add_sequence_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--t1ce", help="contrast-enhanced T1: a file, a DICOM series folder, or series:UID of --study")
    parser.add_argument("--t2", help="T2-weighted volume (required, or found in --study)")
    parser.add_argument("--flair", help="FLAIR volume (optional)")
    parser.add_argument("--t1", help="native T1 volume (optional)")
    parser.add_argument("--dicomweb", metavar="URL", help="DICOMweb server (e.g. http://localhost:8042/dicom-web)")
    parser.add_argument("--study", metavar="UID", help="read the sequences from this study of --dicomweb, each "
                        "series chosen by its description (override: --t2 series:UID)")
    parser.add_argument("--series-uid", action="append", metavar="UID",
                        help="the series to read from a DICOM folder holding several (repeat for several folders)")


def _add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", choices=("bar", "json", "none"), default=None,
                        help="progress display: a bar on a terminal (default), JSON lines for Slicer, none")


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a non-empty --out whole (never a folder holding an input)")


def _add_limits(parser: argparse.ArgumentParser) -> None:
    from .limits import InputLimits

    defaults = InputLimits()
    limits = parser.add_argument_group("limits (checked before any preprocessing)")
    limits.add_argument("--max-voxels", type=int, default=defaults.max_voxels, help="voxels per input volume")
    limits.add_argument("--max-extent-mm", type=float, default=defaults.max_extent_mm,
                        help="largest field of view per axis")
    limits.add_argument("--min-extent-mm", type=float, default=defaults.min_extent_mm,
                        help="smallest field of view per axis")
    limits.add_argument("--min-spacing-mm", type=float, default=defaults.min_spacing_mm, help="finest voxel spacing")
    limits.add_argument("--stage-timeout", type=float, metavar="S",
                        help="end the command when one stage (N4, registration, a task ...) runs longer than S seconds")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="threads for torch, ITK and OpenMP together (default: the cores this process may use)")


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
    _add_overwrite(preprocess)
    _add_limits(preprocess)
    _add_preprocessing_options(preprocess)
    _add_progress(preprocess)
    _add_threads(preprocess)

    run = commands.add_parser("run", help="run the clinical tasks on one case and write result.json")
    _add_sequence_inputs(run)
    run.add_argument("--out", required=True, type=Path)
    run.add_argument("--roi", type=Path, help="Slicer Markups ROI file (.mrk.json)")
    run.add_argument("--roi-ras", help="axis-aligned box RMIN,RMAX,AMIN,AMAX,SMIN,SMAX in RAS mm")
    run.add_argument("--tasks", default="all", help="all, or a comma-separated list of tasks")
    run.add_argument("--device", choices=DEVICES, default="auto")
    run.add_argument("--dicom-out", type=Path, metavar="DIR",
                     help="also write DICOM SEG, TID 1500 SR and Parametric Maps on the source series "
                          "(DICOM inputs); with --dicomweb they are stored there too")
    _add_overwrite(run)
    _add_limits(run)
    run.add_argument("--quality-thresholds", type=Path, metavar="FILE",
                     help="JSON file overriding input quality thresholds (defaults: BrainTumorAILib/quality/thresholds.py)")
    _add_progress(run)
    _add_threads(run)

    batch = commands.add_parser("batch", help="run the tasks on every case of a cohort (resumable, summary.csv)")
    batch.add_argument("--data", required=True, type=Path,
                       help="CSV manifest or folder of cases (BraTS-style or synthetic), as for train")
    batch.add_argument("--out", required=True, type=Path, help="folder: <out>/<case>/ per case and summary.csv")
    batch.add_argument("--tasks", default="all", help="all, or a comma-separated list of tasks")
    batch.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    batch.add_argument("--ray", metavar="ADDRESS", help="run on the Ray cluster at ADDRESS (host:port, or auto)")
    batch.add_argument("--cpus-per-case", type=_positive_int, default=1,
                       help="with --ray: CPUs each case's task asks for (and its threads)")
    batch.add_argument("--gpus-per-case", type=float, default=0.0, help="with --ray: GPUs each case's task asks for")
    batch.add_argument("--max-retries", type=int, default=3,
                       help="with --ray: retries of a case whose worker process or node dies")
    _add_progress(batch)
    _add_threads(batch)

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

    synth_followup = commands.add_parser("synth-followup", help="a synthetic patient scanned three times "
                                         "(response, then regrowth), with known truth")
    synth_followup.add_argument("--out", required=True, type=Path)
    synth_followup.add_argument("--kind", default="gbm", help="a synthetic kind (default gbm: the demo patient)")
    synth_followup.add_argument("--seed", type=int, default=7)
    synth_followup.add_argument("--voxel-mm", type=float, default=1.0)

    followup = commands.add_parser("followup", help="two or more studies of one patient: lesions matched over "
                                   "time, RANO-BM and RANO 2.0 response")
    followup.add_argument("--study", action="append", required=True, metavar="DATE=DIR",
                          help="a study: its date (YYYY-MM-DD) and a run output, a folder with t1ce and a lesions "
                               "mask, or a folder of inputs (run first); twice or more")
    followup.add_argument("--out", required=True, type=Path)
    followup.add_argument("--task", choices=("mets-25d", "mets-3d"),
                          help="segmentation whose lesions are followed (default: mets-25d when available)")
    followup.add_argument("--clinical", type=Path, help='JSON {"DATE": {"steroids": ..., "clinical_status": ..., '
                                                        '"non_target_progression": true|false}}')
    followup.add_argument("--steroids", action="append", default=[], metavar="DATE=none|decreased|stable|increased")
    followup.add_argument("--clinical-status", action="append", default=[], metavar="DATE=improved|stable|worse")
    followup.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    _add_progress(followup)

    demo = commands.add_parser("demo", help="run the main job on the bundled demo case")
    demo.add_argument("--out", type=Path, default=Path("demo_output"))
    _add_progress(demo)
    _add_threads(demo)
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


def _progress_for(args):
    mode = getattr(args, "progress", None) or ("bar" if sys.stderr.isatty() else "none")
    progress = Progress(mode)
    if getattr(args, "stage_timeout", None) is not None:
        from .stage_timeout import StageTimeout

        if not args.stage_timeout > 0:
            raise InputError(f"--stage-timeout must be positive, got {args.stage_timeout:g}")
        return StageTimeout(progress, args.stage_timeout)
    return progress


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


def read_sequences(args):
    """Read and validate every given sequence (files, DICOM folders or a DICOMweb study), within the
    size limits, before any work starts; a CaseInputs with the images and, for DICOM inputs, their
    source series."""
    from .dicom.inputs import read_inputs
    from .limits import InputLimits, check_limits

    limits = InputLimits(**{name: getattr(args, name) for name in
                            ("max_voxels", "max_extent_mm", "min_extent_mm", "min_spacing_mm") if hasattr(args, name)})
    inputs = read_inputs({name: getattr(args, name, None) for name in SEQUENCES}, dicomweb=args.dicomweb,
                         study=args.study, series_uids=args.series_uid)
    for name, image in inputs.images.items():
        check_limits(image, name, limits)
    return inputs


def input_paths(args) -> list:
    """The files and folders the command reads: never to be written over."""
    return [getattr(args, name) for name in SEQUENCES if getattr(args, name, None)] + \
        [path for path in (getattr(args, "roi", None), getattr(args, "quality_thresholds", None)) if path]


def _cmd_preprocess(args) -> None:
    from .outputs import guard_output, staged_output, volume_bytes
    from .preprocessing import preprocess

    options = preprocess_options(args)
    images = read_sequences(args).images
    expected = (len(images) + 1) * volume_bytes(images[options.reference], options.resample_mm)
    with guard_output(args.out, input_paths(args), args.overwrite, expected):
        progress = _progress_for(args)
        case = preprocess(images, options, progress=progress)
        with staged_output(args.out, replace=True) as staging:
            case.write(staging)
        progress.close()
    print(f"preprocessed images, brain mask and preprocessing.json in {args.out}")


def _cmd_run(args) -> None:
    from .catalog import task_specs
    from .outputs import guard_output, volume_bytes
    from .quality import load_thresholds
    from .report.text import print_run_summary
    from .roi import load_roi
    from .runner import run_case, write_run

    thresholds = load_thresholds(args.quality_thresholds)
    roi = load_roi(args.roi, args.roi_ras)
    if args.dicomweb and not (args.study or args.dicom_out):
        raise InputError("--dicomweb needs --study UID (to read from it) or --dicom-out DIR (to store results in it)")
    inputs = read_sequences(args)
    images = inputs.images
    if args.dicom_out:
        from .dicom.export import require_dicom_sources

        require_dicom_sources(inputs.sources)
    if roi is not None:
        for name in ("t2", "t1ce"):  # every task's grid is one of these: refuse before any preprocessing
            roi.voxel_box(images[name], name)
    # every task's images on the largest input grid
    expected = sum(len(spec.outputs) for spec in task_specs().values()) * max(map(volume_bytes, images.values()))
    with guard_output(args.out, input_paths(args), args.overwrite, expected):
        progress = _progress_for(args)
        run = run_case(images, roi, tasks=args.tasks, device=args.device, progress=progress, case_id=inputs.case_id,
                       quality_thresholds=thresholds,
                       quality_thresholds_file=str(args.quality_thresholds) if args.quality_thresholds else None)
        # where the inputs were: `followup` registers a run's study by its T1CE
        run.result["input_files"] = {name: str(Path(getattr(args, name)).resolve()) for name in images
                                     if getattr(args, name, None) and Path(getattr(args, name)).exists()}
        write_run(run, args.out, replace=True)
        progress.update("done", 1.0, f"results in {args.out}")
        progress.close()
    print_run_summary(run.result, args.out)
    if args.dicom_out:
        _export_dicom(run, inputs, args)


def _export_dicom(run, inputs, args) -> None:
    """DICOM objects after the run's own files, which stay whatever happens to the DICOM side."""
    from .dicom.dicomweb import DicomWebServer
    from .dicom.export import export_dicom

    server = DicomWebServer(args.dicomweb) if args.dicomweb else None
    try:
        written = export_dicom(run.result, run.images, inputs.sources, args.dicom_out, server=server)
    except InputError as error:
        raise InputError(f"{error} (run results kept in {args.out})") from None
    stored = f", stored on {args.dicomweb}" if server else ""
    print(f"DICOM: {', '.join(written['files'])} in {args.dicom_out} ({written['seconds']:.1f} s{stored})")


def _cmd_batch(args) -> None:
    from .cohort import BatchSettings, run_batch
    from .cohort.ray_runner import RayResources

    if args.ray:  # each Ray task runs with the CPUs it asked for
        settings = BatchSettings(args.tasks, args.device, args.cpus_per_case)
    else:
        settings = BatchSettings(args.tasks, args.device, args.threads)
    mode = getattr(args, "progress", None) or ("bar" if sys.stderr.isatty() else "none")
    report = run_batch(args.data, args.out, settings, ray_address=args.ray,
                       ray_resources=RayResources(args.cpus_per_case, args.gpus_per_case, args.max_retries),
                       progress=mode)
    counts = {status: sum(row["status"] == status for row in report["rows"]) for status in ("done", "skipped", "failed")}
    print(f"{len(report['rows'])} cases: {counts['done']} done, {counts['skipped']} skipped (finished earlier), "
          f"{counts['failed']} failed; summary in {report['summary']}")
    for row in report["rows"]:
        if row["status"] == "failed":
            print(f"  {row['case']}: {row['error']}")
    for task, outcome in report["evaluation"].items():
        print(f"  evaluate {task}: " + (f"{outcome['n_cases']} cases, {outcome['report']}/evaluation.json"
                                         if "report" in outcome else outcome["note"]))


def _cmd_train(args) -> None:
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


def _cmd_synth_followup(args) -> None:
    from .synthetic import KINDS
    from .synthetic.followup import demo_plans, make_followup, study_dates

    if args.kind not in KINDS:
        raise InputError(f"unknown synthetic kind {args.kind} (choose from {', '.join(KINDS)})")
    folders = make_followup(args.out, args.kind, args.seed, demo_plans(args.kind), voxel_mm=args.voxel_mm)
    for date, folder in zip(study_dates(folders), folders):
        print(f"{date}={folder}")


def _cmd_followup(args) -> None:
    from .followup.clinical import load_clinical
    from .followup.pipeline import follow_up
    from .followup.studies import load_study, parse_study
    from .followup.writer import write_followup

    if args.out.exists() and any(args.out.iterdir()):
        raise InputError(f"--out {args.out} is not empty: choose a new folder")
    clinical = load_clinical(args.clinical, args.steroids, args.clinical_status)
    studies = [load_study(date, folder, args.task) for date, folder in map(parse_study, args.study)]
    progress = _progress_for(args)
    followup = follow_up(studies, clinical, task=args.task, device=args.device, progress=progress)
    write_followup(followup, args.out)
    progress.update("done", 1.0, f"results in {args.out}")
    progress.close()
    for key, name in (("rano_bm", "RANO-BM"), ("rano2", "RANO 2.0")):
        entry = followup.result[key]
        print(f"{name}: {entry['display']} (volumetric: {entry['volumetric']['display']})")
    print(f"followup.json, followup.csv and report.html in {args.out}")


def _cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, progress=_progress_for(args))


COMMANDS = {
    "synth": _cmd_synth,
    "preprocess": _cmd_preprocess,
    "run": _cmd_run,
    "batch": _cmd_batch,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "benchmark": _cmd_benchmark,
    "demo": _cmd_demo,
    "followup": _cmd_followup,
    "synth-followup": _cmd_synth_followup,
}


class Terminated(KeyboardInterrupt):
    """SIGTERM (what the Slicer panel's Cancel sends first): unwinds like Ctrl-C, so staged output
    is removed by the same `finally` blocks."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _error_line(exc: BaseException) -> str:
    """One line for an operating-system or ITK error (disk full, permission, unwritable file...)."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    from .image import itk_reason

    return f"ITK: {itk_reason(exc)}"


def _is_itk_error(exc: RuntimeError) -> bool:
    text = str(exc)
    return "sitk::ERROR" in text or "ITK ERROR" in text or "Exception thrown in SimpleITK" in text


# Commands whose work runs in this process with torch/ITK (train sets its own, per torchrun rank).
THREADED_COMMANDS = ("preprocess", "run", "batch", "benchmark", "demo", "evaluate")


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
    previous_sigterm = None
    if threading.current_thread() is threading.main_thread():
        previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)


    if args.command in THREADED_COMMANDS:
        from .threads import configure_threads

        configure_threads(getattr(args, "threads", None))
    try:
        COMMANDS[args.command](args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Terminated:
        print("error: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        from .stage_timeout import expired_message

        if expired_message():
            print(f"error: {expired_message()}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OSError, RuntimeError) as exc:
        if args.debug or (isinstance(exc, RuntimeError) and not _is_itk_error(exc)):
            raise
        print(f"error: {_error_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        from .stage_timeout import stop_all

        stop_all()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    return 0
