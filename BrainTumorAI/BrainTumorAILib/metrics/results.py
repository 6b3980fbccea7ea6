"""JSON form of the metric result dataclasses: plain dicts of floats, ints, strings and lists."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


def to_jsonable(value):
    """Convert dataclasses, NumPy scalars/arrays and tuples to JSON types.

    NaN and infinities become None: strict JSON has no NaN, and an undefined metric (no
    positive case in a bootstrap draw, sklearn's infinite first ROC threshold) is "no value".
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


class JsonResult:
    """Mixin for result dataclasses: `to_json()` gives a dict ready for `json.dump`."""

    def to_json(self) -> dict:
        return to_jsonable(self)
