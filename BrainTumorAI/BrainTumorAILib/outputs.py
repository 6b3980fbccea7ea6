"""Output folders that never lose or mix data.

`guard_output` is what every command writing a results folder (`run`, `preprocess`, and later
`batch`, `followup`) calls before any computation: it refuses an `--out` that is, holds or lies
inside an input, a non-empty `--out` without `--overwrite`, a folder another run is writing, and
one that cannot be written or lacks the space; then `staged_output` writes everything beside it
and swaps it in whole, so a failed, interrupted or concurrent run leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from pathlib import Path

from .errors import InputError

# Beside the files themselves: the report, JSON and CSV, and the file system's own overhead.
SPACE_MARGIN_BYTES = 20 * 1024 * 1024
# Lock files and staging folders this process holds, for a process that must end at once
# (stage_timeout): `remove_in_progress` removes them.
_in_progress: set[Path] = set()


def remove_in_progress() -> None:
    for path in list(_in_progress):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        _in_progress.discard(path)


def _resolved(path) -> Path:
    """The absolute path with every symbolic link resolved (also for paths that do not exist yet)."""
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_not_an_input(out_dir, inputs) -> None:
    """Refuse an output folder that is an input, holds an input file, or lies inside an input folder."""
    out = _resolved(out_dir)
    for given in inputs:
        if given is None:
            continue
        source = _resolved(given)
        if out == source:
            raise InputError(f"--out {out_dir} is the input {given}: choose a new folder for the results")
        if _is_within(source, out):
            raise InputError(f"--out {out_dir} holds the input {given}: writing there could replace or mix "
                             f"with your scans; choose a new folder for the results")
        if source.is_dir() and _is_within(out, source):
            raise InputError(f"--out {out_dir} lies inside the input folder {given}: choose a folder outside it")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(out_dir, expected_bytes: int = 0) -> None:
    """Refuse an output folder that cannot be created and written, or lacks the space for the results."""
    out = _resolved(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out_dir} is an existing file, not a folder")
    # the results are staged beside the folder (see staged_output): that is where they are written
    parent = _existing_ancestor(out.parent)
    if not parent.is_dir():
        raise InputError(f"--out {out_dir}: {parent} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        raise InputError(f"--out {out_dir}: cannot write in {parent} ({error.strerror or error})") from None
    free = shutil.disk_usage(parent).free
    needed = int(expected_bytes) + SPACE_MARGIN_BYTES
    if free < needed:
        raise InputError(f"--out {out_dir}: {free / 2**20:.0f} MiB free in {parent}, the results need about "
                         f"{needed / 2**20:.0f} MiB")


def check_empty_or_overwrite(out_dir, overwrite: bool) -> None:
    out = Path(out_dir)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out_dir} is not empty: choose a new folder, or add --overwrite to replace it whole")


class _FolderLock:
    """An exclusive lock on `.<name>.lock` beside an output folder, removed on release.

    Hand-written because `filelock` leaves its file behind: this one unlinks it, and checks after
    locking that the file it holds is still the one at the path (a releasing run may have just
    removed it), so two runs can never both hold it.
    """

    def __init__(self, out_dir: Path):
        out = _resolved(out_dir)
        self.path = out.parent / f".{out.name}.lock"
        self.out_dir = out_dir
        self.handle = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "a+")
            if not _try_lock(handle):
                handle.close()
                raise InputError(f"--out {self.out_dir} is being written by another run (lock {self.path}); "
                                 f"wait for it or choose another folder")
            try:
                same = os.path.samestat(os.fstat(handle.fileno()), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                handle.seek(0)
                handle.truncate()
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                self.handle = handle
                _in_progress.add(self.path)
                return
            handle.close()  # the previous holder removed this file after we opened it: lock the new one

    def release(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.handle.close()  # closing drops the lock
            self.handle = None
            _in_progress.discard(self.path)


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextlib.contextmanager
def guard_output(out_dir, inputs, overwrite: bool = False, expected_bytes: int = 0):
    """Check an output folder before any computation and hold it for the command's duration.

    Refuses (InputError) an `out_dir` that is, holds or lies inside one of `inputs` (symbolic links
    resolved), an existing file, a non-empty folder unless `overwrite`, a folder locked by another
    run, and one that cannot be written or has less than `expected_bytes` free. Write the results
    with `staged_output(out_dir, replace=overwrite)` inside the `with` block.
    """
    check_not_an_input(out_dir, inputs)
    check_writable(out_dir, expected_bytes)
    lock = _FolderLock(Path(out_dir))
    lock.acquire()
    try:
        check_empty_or_overwrite(out_dir, overwrite)  # again under the lock: the folder is ours now
        yield Path(out_dir)
    finally:
        lock.release()


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while folders are swapped, so an interruption never leaves no folder."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: nothing to defer
        yield
        return
    blocked = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def staged_output(out_dir, replace: bool = False):
    """Yield a staging folder beside `out_dir`; on success it becomes `out_dir`.

    A missing or empty `out_dir`, or any `out_dir` when `replace`, is swapped for the staging
    folder whole (no earlier file stays beside the new ones). Otherwise the new files are moved
    in beside the existing ones (callers that add to a folder they own). On any exception, a
    KeyboardInterrupt included, the staging folder is removed and `out_dir` is as it was.
    """
    out_dir = Path(out_dir)
    out = _resolved(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    _in_progress.add(staging)
    try:
        yield staging
        with _signals_deferred():
            if not out.exists():
                os.rename(staging, out)
            elif replace or not any(out.iterdir()):
                retired = out.parent / f".{out.name}.replaced-{uuid.uuid4().hex[:12]}"
                os.rename(out, retired)
                os.rename(staging, out)
                shutil.rmtree(retired, ignore_errors=True)
            else:
                for path in sorted(staging.rglob("*")):
                    target = out / path.relative_to(staging)
                    if path.is_dir():
                        target.mkdir(exist_ok=True)
                    else:
                        os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _in_progress.discard(staging)


def volume_bytes(image, spacing_mm: float | None = None) -> int:
    """Uncompressed float32 bytes of `image`'s field of view, on its own grid or an isotropic
    `spacing_mm` one: an upper bound for one written volume (files are compressed)."""
    import numpy as np

    size, spacing = np.array(image.GetSize(), float), np.array(image.GetSpacing(), float)
    voxels = np.prod(size) if spacing_mm is None else np.prod(np.ceil(size * spacing / spacing_mm))
    return int(4 * voxels)
