"""Fold models kept in memory across cases, for processes that run many cases (batch workers).

Off by default: a one-case `run` loads each model set once anyway. With `keep_fold_models()`,
`ModelSet.load_folds` builds and verifies a set's fold models on its first use in this process
and hands the same (eval-mode) modules to every later case. The key names the weights by their
SHA-256 and the architecture by its configuration, so a different set never shares an entry.
"""

from __future__ import annotations

import json
from typing import Callable

_cache: dict | None = None


def keep_fold_models(enabled: bool = True) -> None:
    """Keep loaded fold models for the rest of this process (`False` drops them and stops)."""
    global _cache
    _cache = {} if enabled else None


def cached_folds(model_set, load: Callable[[], list]) -> list:
    """`load()`'s models, from the cache when this set was loaded before and caching is on."""
    if _cache is None:
        return load()
    key = (model_set.architecture.name, json.dumps(model_set.architecture.config, sort_keys=True),
           tuple(fold.sha256 for fold in model_set.folds))
    if key not in _cache:
        _cache[key] = load()
    return _cache[key]
