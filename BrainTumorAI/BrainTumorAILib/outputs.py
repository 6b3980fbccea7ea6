"""All-or-nothing output folders: results appear in DIR only when a command succeeds."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path


@contextlib.contextmanager
def staged_output(out_dir):
    """Yield a staging folder beside the final files; move its files into `out_dir` on success.

    On any exception the staging folder is removed (and `out_dir` too if this call created
    it), so a failed run leaves no half-written result behind.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = out_dir / f".partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        yield staging
        for path in sorted(staging.rglob("*")):
            target = out_dir / path.relative_to(staging)
            if path.is_dir():
                target.mkdir(exist_ok=True)
            else:
                os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and out_dir.exists() and not any(out_dir.iterdir()):
            out_dir.rmdir()
