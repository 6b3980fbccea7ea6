"""A command in a background process: JSON progress lines from stdout, cancel kills the whole tree.

Reader threads only collect the pipes' lines; whoever polls (the Widget's timer or a blocking
wait) handles them on its own thread, so MRML is only ever touched from Slicer's main thread.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass

STDERR_LINES_KEPT = 200
TERMINATE_GRACE_S = 3.0
POLL_INTERVAL_S = 0.1


@dataclass(frozen=True)
class ProgressEvent:
    """One `{"stage", "fraction", "message"}` line of `--progress json` (fraction of the whole job)."""

    stage: str
    fraction: float
    message: str = ""


def parse_progress_line(line: str) -> ProgressEvent | None:
    """The progress event on a stdout line, or None for any other output."""
    try:
        data = json.loads(line)
        return ProgressEvent(str(data["stage"]), float(data["fraction"]), str(data.get("message", "")))
    except (ValueError, TypeError, KeyError):
        return None


class BackgroundProcess:
    """Run `argv` without blocking; poll for progress, wait, or cancel (the process and its children)."""

    def __init__(self, argv: list[str], env: dict | None = None, cwd=None):
        self.argv = [str(a) for a in argv]
        self.cancelled = False
        self._events: queue.Queue = queue.Queue()
        self._stderr: deque = deque(maxlen=STDERR_LINES_KEPT)
        self._process = subprocess.Popen(
            self.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", **process_options())
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def poll(self) -> list[ProgressEvent]:
        """Progress events received since the last poll."""
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit and for the pipes to be read to their end; returns the exit status."""
        status = self._process.wait(timeout)
        for reader in self._readers:
            reader.join()
        return status

    def follow(self, progress_callback=None, interval_s: float = POLL_INTERVAL_S) -> int:
        """Block until the process ends, passing each progress event to `progress_callback`
        (which may call `cancel`); returns the exit status."""
        while True:
            running = self.running
            if not running:
                status = self.wait()  # the readers may still be queueing the last lines: join them first
            for event in self.poll():
                if progress_callback is not None:
                    progress_callback(event)
            if not running:
                return status
            time.sleep(interval_s)

    def cancel(self) -> None:
        """Stop the process and every process it started (terminate, then kill after a grace period)."""
        self.cancelled = True
        kill_process_tree(self._process)
        self.wait()

    def stderr_lines(self) -> list[str]:
        return list(self._stderr)

    def error_message(self) -> str:
        """The core's one-line `error: ...` message, else the last line written to stderr."""
        lines = [line for line in self._stderr if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        if errors:
            return errors[-1][len("error:"):].strip()
        if lines:
            return lines[-1].strip()
        return f"the background process ended with exit status {self.returncode}"

    def _read_stdout(self) -> None:
        for line in self._process.stdout:
            event = parse_progress_line(line)
            if event is not None:  # other stdout lines are the terminal summary, not needed here
                self._events.put(event)
        self._process.stdout.close()

    def _read_stderr(self) -> None:
        for line in self._process.stderr:
            self._stderr.append(line.rstrip("\n"))
        self._process.stderr.close()


# Windows process-creation flags (subprocess defines them only on Windows)
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000


def process_options(os_name: str = os.name) -> dict:
    """Popen options: the child gets its own process group, so cancel reaches its children; on
    Windows also no console window, which would open beside Slicer and kill the run when closed."""
    if os_name == "nt":
        return {"creationflags": CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW}
    return {"start_new_session": True}


def kill_process_tree(process: subprocess.Popen, grace_s: float = TERMINATE_GRACE_S) -> None:
    """Terminate `process` and all its descendants; kill whatever is still alive after `grace_s`.

    POSIX: the whole session's process group (this also reaches children orphaned by a dead
    parent). Windows: the descendants psutil finds, as Windows has no process groups to signal.
    """
    if os.name == "nt":
        kill_descendants_with_psutil(process.pid, grace_s)
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _group_alive(process.pid):
        process.poll()  # reap the leader so that it does not count as alive
        time.sleep(0.05)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _group_alive(group_id: int) -> bool:
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    return True


def kill_descendants_with_psutil(pid: int, grace_s: float = TERMINATE_GRACE_S) -> None:
    """Terminate a process and its descendants found by psutil, then kill the survivors."""
    import psutil  # a core dependency; imported here because only Windows needs it

    try:
        parent = psutil.Process(pid)
        tree = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for member in tree:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
