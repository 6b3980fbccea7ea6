"""Validate registry and model-card documents against the JSON schemas in Resources/models."""

from __future__ import annotations

import functools
import json

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from ..errors import InputError
from .locations import schema_path

REGISTRY_SCHEMA = "registry.schema.json"
CARD_SCHEMA = "model_card.schema.json"


@functools.lru_cache(maxsize=None)
def _validator(name: str) -> Draft202012Validator:
    # Both schemas are registered so the card schema can refer to the registry's definitions.
    schemas = {n: json.loads(schema_path(n).read_text(encoding="utf-8")) for n in (REGISTRY_SCHEMA, CARD_SCHEMA)}
    resources = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return Draft202012Validator(schemas[name], registry=resources)


def validate(document, schema_name: str, what: str) -> None:
    """Raise InputError naming the most relevant schema violation of `document` (`what` names it)."""
    error = best_match(_validator(schema_name).iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "top level"
        raise InputError(f"{what}: {error.message} (at {where})")
