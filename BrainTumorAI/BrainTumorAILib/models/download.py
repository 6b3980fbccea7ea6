"""Download weight files into the per-user cache, verified by SHA-256 and written atomically."""

from __future__ import annotations

import hashlib
import http.client
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..progress import NullProgress
from .atomic import atomic_path
from .locations import cache_dir as default_cache_dir
from .checksum import sha256_file

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def cached_path(url_or_path: str, sha256: str, cache_dir=None) -> Path:
    """Where the file with this checksum lives in the cache: `<cache>/weights/<sha256><suffix>`.

    The suffix (e.g. .safetensors) is kept because it tells `load_weights` the format.
    """
    if not _SHA256.match(sha256 or ""):
        raise InputError(f"{url_or_path}: {sha256!r} is not a lower-case hex SHA-256")
    suffix = PurePosixPath(urllib.parse.urlparse(url_or_path).path).suffix
    return Path(cache_dir or default_cache_dir()) / "weights" / f"{sha256}{suffix}"


def download(url: str, sha256: str, cache_dir=None, progress=None, timeout: float = 60.0) -> Path:
    """Return the cached file for `sha256`, downloading it from `url` first if needed.

    A cached file is re-hashed and used without any network access. A download goes to a
    temporary file, is checked (length, SHA-256) and only then renamed into place, so no
    partial or wrong file is ever left in the cache. Errors are InputErrors naming the cause.
    """
    target = cached_path(url, sha256, cache_dir)
    if target.is_file():
        if sha256_file(target) == sha256:
            return target
        target.unlink()  # corrupted since it was stored: fetch it again
    progress = progress or NullProgress()
    with atomic_path(target) as tmp:
        received, expected_size, digest = _fetch(url, tmp, progress, timeout, target)
        if expected_size is not None and received != expected_size:
            raise InputError(f"download {url}: truncated, received {received} of {expected_size} bytes")
        if digest != sha256:
            raise InputError(f"download {url}: SHA-256 mismatch (expected {sha256}, got {digest}); "
                             "the file is corrupt or tampered and was not kept")
    progress.update("download", 1.0, f"{target.name} verified")
    return target


def _fetch(url: str, tmp: Path, progress, timeout: float, target: Path):
    """Stream `url` into `tmp`; return (bytes received, Content-Length or None, SHA-256)."""
    digest = hashlib.sha256()
    received = 0
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length and length.isdigit() else None
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if expected_size:
                    progress.update("download", received / expected_size,
                                    f"{name}: {received >> 20} of {expected_size >> 20} MiB")
    except urllib.error.HTTPError as error:
        raise InputError(f"download {url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise InputError(f"download {url}: no network or server unreachable ({error.reason}); "
                         f"to work offline, put the file at {target}") from error
    except http.client.IncompleteRead as error:
        raise InputError(f"download {url}: truncated, connection closed after "
                         f"{received + len(error.partial)} bytes") from error
    except (TimeoutError, ConnectionError, http.client.HTTPException) as error:
        raise InputError(f"download {url}: connection failed ({error!r}); "
                         f"to work offline, put the file at {target}") from error
    return received, expected_size, digest.hexdigest()
