"""SHA-256 of files (weights, downloads), without torch."""

from __future__ import annotations

import hashlib

_CHUNK = 1 << 20


def sha256_file(path) -> str:
    """Lower-case hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
