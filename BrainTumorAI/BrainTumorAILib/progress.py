"""Progress reporting: a tqdm bar on a terminal, JSON lines for the Slicer module, or nothing.

A JSON line is `{"stage": str, "fraction": 0-1, "message": str}` on stdout (the contract).
"""

from __future__ import annotations

import json
import sys

from tqdm import tqdm


class Progress:
    """Report overall progress through named stages; `fraction` is of the whole job."""

    def __init__(self, mode: str = "bar", stream=None):
        if mode not in ("bar", "json", "none"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode
        self.stream = stream or sys.stdout
        self._bar = None
        self._reached = 0.0
        if mode == "bar":
            self._bar = tqdm(total=100, unit="%", file=sys.stderr, leave=False,
                             bar_format="{l_bar}{bar}| {n:.0f}%  {elapsed}")

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        # never backwards: a part that starts over (a second preprocessing setting, a retried
        # device) reports its stage, while the overall fraction stays where the job had got to
        fraction = self._reached = max(self._reached, float(min(max(fraction, 0.0), 1.0)))
        if self.mode == "json":
            line = json.dumps({"stage": stage, "fraction": round(fraction, 4), "message": message})
            print(line, file=self.stream, flush=True)
        elif self._bar is not None:
            self._bar.set_description_str(stage)
            self._bar.n = 100 * fraction
            self._bar.refresh()

    def child(self, start: float, end: float) -> "SubProgress":
        """A view mapping a sub-job's 0-1 onto [start, end] of this job."""
        return SubProgress(self, start, end)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class SubProgress:
    """Progress of one part of a job, rescaled into its parent's range."""

    def __init__(self, parent, start: float, end: float):
        self.parent, self.start, self.end = parent, start, end

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        self.parent.update(stage, self.start + (self.end - self.start) * fraction, message)

    def child(self, start: float, end: float) -> "SubProgress":
        return SubProgress(self, start, end)


class NullProgress(SubProgress):
    """Progress that goes nowhere (library calls without a reporter)."""

    def __init__(self):
        super().__init__(None, 0.0, 1.0)

    def update(self, stage: str, fraction: float, message: str = "") -> None:
        pass
