"""One quality check's record, as result.json holds it: status, measured value, threshold, message."""

from __future__ import annotations

# From harmless to worst; a task's status is the worst of its checks.
STATUSES = ("ok", "warning", "unreliable", "failed")


def check(status: str, value, threshold, message: str) -> dict:
    if status not in STATUSES:
        raise ValueError(f"unknown quality status {status!r}")
    rounded = round(float(value), 4) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    return {"status": status, "value": rounded, "threshold": threshold, "message": message}


def worst(statuses) -> str:
    return max(statuses, key=STATUSES.index, default="ok")


def graded(value: float, warn_below: float, fail_below: float, fail_status: str = "failed") -> str:
    """ok at or above `warn_below`, warning between, `fail_status` below `fail_below`."""
    if value < fail_below:
        return fail_status
    return "warning" if value < warn_below else "ok"
