"""Where a batch writes: `<out>/<case>/` in the `run` layout, written once and atomically.

A case is written into its own staging folder `<out>/.staging-<case>-<random>/` and renamed to
`<out>/<case>/`. A rename onto an existing case folder fails, so whichever attempt of a case
(a Ray retry, a second batch on the same folder) finishes first owns the folder and later ones
are discarded: no case is ever written twice into the same output.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

RESULT = "result.json"
STAGING_PREFIX = ".staging-"


def finished_result(case_dir: Path) -> dict | None:
    """The case's result.json when it is complete (parses, has tasks), else None."""
    try:
        result = json.loads((Path(case_dir) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and isinstance(result.get("tasks"), dict) else None


def staging_folder(out_dir: Path, case_id: str) -> Path:
    return Path(out_dir) / f"{STAGING_PREFIX}{case_id}-{uuid.uuid4().hex[:12]}"


def publish(staging: Path, out_dir: Path, case_id: str) -> bool:
    """Rename the finished staging folder to `<out>/<case>`; False (and the staging folder
    removed) when another attempt's complete result is already there."""
    final = Path(out_dir) / case_id
    if final.exists() and finished_result(final) is None:
        shutil.rmtree(final)  # an incomplete folder (not written by a batch): replace it
    try:
        os.rename(staging, final)
        return True
    except OSError:
        if finished_result(final) is None:
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return False


def remove_leftovers(out_dir: Path) -> list[str]:
    """Remove staging folders of attempts that died mid-case (call when no attempt is running)."""
    removed = []
    for path in Path(out_dir).glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    return removed
