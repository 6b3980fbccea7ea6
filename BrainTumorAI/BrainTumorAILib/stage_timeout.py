"""A per-stage time limit (`--stage-timeout S`, for batch use): a stage is what the progress
reporter names (bias_correction, registration, brain_extraction, a task ...).

A watchdog thread interrupts the main thread like Ctrl-C when one stage runs longer than the
limit, so the usual clean-up runs; a stage stuck inside C++ (ITK, torch) cannot be interrupted
from Python, so after a grace period the watchdog removes what the command holds (its output
lock and staging folders, see `outputs`) and ends the process itself.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time

from .progress import SubProgress

GRACE_S = 10.0
EXIT_STATUS = 2
_expired: list[str] = []
_active: list["StageTimeout"] = []


def expired_message() -> str | None:
    """The refusal line's text when a stage ran out of time in this process, else None."""
    return _expired[-1] if _expired else None


def stop_all() -> None:
    """Stop every watchdog (the command ended, however it ended)."""
    while _active:
        _active.pop().stop()


def _interrupt_signal() -> tuple[int, object]:
    """The signal the watchdog raises KeyboardInterrupt with, and the handler it replaced.

    `_thread.interrupt_main()` does nothing while SIGINT is ignored, as it is in background
    jobs of a non-interactive shell (a batch script's `&`): there, and only there, the watchdog
    uses SIGUSR1 with Python's KeyboardInterrupt handler instead, so Ctrl-C keeps its meaning."""
    usr1 = getattr(signal, "SIGUSR1", None)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN or usr1 is None:
        return signal.SIGINT, None
    if threading.current_thread() is not threading.main_thread():
        return signal.SIGINT, None
    return usr1, signal.signal(usr1, signal.default_int_handler)


class StageTimeout:
    """A progress reporter forwarding to `progress` that watches the time spent in each stage."""

    def __init__(self, progress, seconds: float):
        if not seconds > 0:
            raise ValueError(f"stage timeout must be positive, got {seconds}")
        self.progress, self.seconds = progress, float(seconds)
        self.stage, self.started = "start", time.monotonic()
        self._stop = threading.Event()
        self._signum, self._replaced_handler = _interrupt_signal()
        _expired.clear()
        _active.append(self)
        self._thread = threading.Thread(target=self._watch, name="stage-timeout", daemon=True)
        self._thread.start()

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        if stage != self.stage:
            self.stage, self.started = stage, time.monotonic()
        self.progress.update(stage, fraction, message)

    def child(self, start: float, end: float) -> SubProgress:
        return SubProgress(self, start, end)

    def stop(self) -> None:
        self._stop.set()
        if self._replaced_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(self._signum, self._replaced_handler)
            self._replaced_handler = None

    def close(self) -> None:
        self.stop()
        self.progress.close()

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self.seconds / 4)):
            if time.monotonic() - self.started > self.seconds:
                _expired.append(f"stage '{self.stage}' ran longer than --stage-timeout {self.seconds:g} s")
                _thread.interrupt_main(self._signum)
                if not self._stop.wait(GRACE_S):
                    self._end_process()
                return

    @staticmethod
    def _end_process() -> None:
        from .outputs import remove_in_progress

        remove_in_progress()
        print(f"error: {expired_message()}", file=sys.stderr, flush=True)
        os._exit(EXIT_STATUS)
