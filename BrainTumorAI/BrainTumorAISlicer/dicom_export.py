"""Export a finished run to DICOM (SEG, TID 1500 SR, Parametric Maps) with the core's writer, into a
folder and, when Slicer's DICOM database is given, into it too.

The objects reference the DICOM series the T1CE and T2 volumes were loaded from: Slicer's DICOM
loader records their instance UIDs on the volume node (attribute `DICOM.instanceUIDs`), and the
database knows each instance's file. A volume that did not come from DICOM may be given as the
folder of its series instead.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BrainTumorAIError

REFERENCED_SEQUENCES = ("t1ce", "t2")
INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"


def dicom_files_of_volume(volume_node, database) -> list[str]:
    """The files of the DICOM instances a volume node was loaded from."""
    uids = (volume_node.GetAttribute(INSTANCE_UIDS_ATTRIBUTE) or "").split()
    if not uids:
        raise BrainTumorAIError(f"volume '{volume_node.GetName()}' was not loaded from DICOM: load it from the "
                                "DICOM database, or give the folder of its DICOM series")
    if database is None:
        raise BrainTumorAIError(f"volume '{volume_node.GetName()}': no DICOM database to find its files in")
    files = [database.fileForInstance(uid) for uid in uids]
    missing = [uid for uid, path in zip(uids, files) if not path or not Path(path).is_file()]
    if missing:
        raise BrainTumorAIError(f"volume '{volume_node.GetName()}': {len(missing)} of its DICOM instances are no "
                                f"longer in the DICOM database (e.g. {missing[0]})")
    return files


def source_series(name: str, source, database):
    """The core's DicomSeries for a volume node (through the database) or a series folder."""
    import pydicom

    from BrainTumorAILib.dicom.series import assemble, read_folder

    if isinstance(source, (str, Path)):
        return read_folder(Path(source), name)
    return assemble([pydicom.dcmread(path) for path in dicom_files_of_volume(source, database)], name)


def export_run_to_dicom(run_dir, sources: dict, out_dir, database=None) -> list[Path]:
    """Write the run folder's results as DICOM objects into `out_dir`; returns the files.

    `sources`: "t1ce" and "t2" -> the volume node of that input or the folder of its DICOM series.
    With `database` (Slicer's `slicer.dicomDatabase`), volume nodes are resolved through it and the
    written objects are added to it. Raises BrainTumorAIError with one line on any problem; a
    failed export leaves nothing in `out_dir`.
    """
    from BrainTumorAILib.dicom.export import export_dicom, load_run
    from BrainTumorAILib.errors import InputError

    missing = [name for name in REFERENCED_SEQUENCES if sources.get(name) is None]
    if missing:
        raise BrainTumorAIError(f"DICOM export needs the {' and '.join(missing)} input(s)")
    if not (Path(run_dir) / "result.json").is_file():
        raise BrainTumorAIError(f"no finished run in {run_dir}")
    try:
        series = {name: source_series(name, sources[name], database) for name in REFERENCED_SEQUENCES}
        result, images = load_run(run_dir)
        written = export_dicom(result, images, series, out_dir)
    except (InputError, ValueError) as error:
        raise BrainTumorAIError(f"DICOM export: {error}") from None
    files = [Path(out_dir) / name for name in written["files"]]
    if database is not None:
        for path in files:
            database.insert(str(path))
    return files
