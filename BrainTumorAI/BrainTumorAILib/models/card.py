"""Model cards: a JSON file beside every weight set saying what it is, how it was made and how
well it did (inputs, cut-offs and how they were chosen, training data, metrics with CIs, limits)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from .atomic import write_json
from .schema import CARD_SCHEMA, validate

DEMO_NOTICE = "Demo weights trained on synthetic phantoms - not for clinical use"


def load_card(path) -> dict:
    """Read and schema-validate a model card; InputError when missing, not JSON or invalid."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model card {path}: file not found")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"model card {path.name}: not valid JSON ({error})") from error
    validate(card, CARD_SCHEMA, f"model card {path.name}")
    return card


def write_card(card: dict, path) -> Path:
    """Validate and write a model card atomically."""
    validate(card, CARD_SCHEMA, f"model card {Path(path).name}")
    return write_json(path, card)


def card_mismatches(card: dict, entry: dict) -> list[str]:
    """Ways a card disagrees with its registry entry (empty when they describe the same set)."""
    problems = [f"{key} {card[key]!r} vs {entry[key]!r}"
                for key in ("name", "task", "version", "demo", "classes", "inputs", "architecture", "preprocessing")
                if card[key] != entry[key]]
    cutoffs = {name: cutoff["value"] for name, cutoff in card["cutoffs"].items()}
    if cutoffs != entry["thresholds"]:
        problems.append(f"cut-offs {cutoffs} vs thresholds {entry['thresholds']}")
    card_files = sorted(f["sha256"] for f in card["files"])
    if card_files != sorted(f["sha256"] for f in entry["folds"]):
        problems.append("file checksums differ from the registry's folds")
    return problems
