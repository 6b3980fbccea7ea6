"""The model registry: every model set (task, network, inputs, classes, thresholds, fold files).

`ModelRegistry.load()` reads the bundled registry (Resources/models/registry.json, see
`models_dir`) and then the per-user registry `<cache>/registry.json`, where model sets that a
user trains are added; `add` + `save` write only that user file, so the installed extension is
never modified. `ModelRegistry.load(path)` reads and writes one given file (e.g. to register
the bundled demo weights). Paths in an entry are relative to its registry file's folder.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import InputError
from ..progress import NullProgress
from .atomic import write_json
from .card import card_mismatches, load_card
from .download import cached_path, download
from .fold_cache import cached_folds
from .locations import models_dir, user_registry_path
from .schema import REGISTRY_SCHEMA, validate
from .checksum import sha256_file

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Architecture:
    """A network name known to `BrainTumorAILib.networks` and the arguments that build it."""

    name: str
    config: dict


@dataclass(frozen=True)
class WeightFile:
    """One fold's weights: path relative to the registry folder, checksum, optional URL and size."""

    path: str
    sha256: str
    url: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class ModelSet:
    """A trained ensemble for one task, as listed in a registry file."""

    name: str
    task: str
    version: str
    architecture: Architecture
    inputs: list
    preprocessing: dict
    classes: list
    thresholds: dict
    folds: list
    card_path: Path
    demo: bool
    notice: str
    default: bool
    base_dir: Path
    entry: dict = field(repr=False, compare=False)

    @classmethod
    def from_entry(cls, entry: dict, base_dir: Path) -> "ModelSet":
        entry = copy.deepcopy(entry)
        return cls(
            name=entry["name"], task=entry["task"], version=entry["version"],
            architecture=Architecture(entry["architecture"]["name"], entry["architecture"]["config"]),
            inputs=entry["inputs"], preprocessing=entry["preprocessing"], classes=entry["classes"],
            thresholds=entry["thresholds"], folds=[WeightFile(**fold) for fold in entry["folds"]],
            card_path=base_dir / entry["card"], demo=entry["demo"], notice=entry.get("notice", ""),
            default=entry.get("default", False), base_dir=base_dir, entry=entry)

    def card(self) -> dict:
        """The model card, schema-validated and checked to describe this very set."""
        card = load_card(self.card_path)
        problems = card_mismatches(card, self.entry)
        if problems:
            raise InputError(f"model card {self.card_path.name} does not match model set {self.name}: "
                             + "; ".join(problems))
        return card

    def describe(self) -> dict:
        """What result.json, the report and the panel show about the set (demo notice included)."""
        card = self.card() if self.card_path.is_file() else {}
        return {"name": self.name, "version": self.version, "task": self.task,
                "architecture": self.architecture.name, "demo": self.demo, "notice": self.notice,
                "intended_use": card.get("intended_use"), "limitations": card.get("limitations", []),
                "folds": [fold.sha256 for fold in self.folds]}

    def verify(self, cache_dir=None) -> None:
        """Fetch missing folds and check every file's SHA-256 and the card, so a run can refuse a
        broken model set before spending time on preprocessing."""
        for path, fold in zip(self.fold_paths(cache_dir), self.folds):
            if sha256_file(path) != fold.sha256:
                raise InputError(f"model set {self.name}: weights {path.name}: SHA-256 mismatch (tampered or corrupt file)")
        self.card()

    def fold_paths(self, cache_dir=None, progress=None) -> list[Path]:
        """Local file of every fold: beside the registry, else in the cache, else downloaded.

        Checksums are verified when loading (`load_weights`) and when downloading.
        """
        progress = progress or NullProgress()
        paths = []
        for index, fold in enumerate(self.folds):
            local = self.base_dir / fold.path
            if local.is_file():
                paths.append(local)
            elif fold.url:
                child = progress.child(index / len(self.folds), (index + 1) / len(self.folds))
                paths.append(download(fold.url, fold.sha256, cache_dir, child))
            elif cached_path(fold.path, fold.sha256, cache_dir).is_file():
                paths.append(cached_path(fold.path, fold.sha256, cache_dir))
            else:
                raise InputError(f"model set {self.name}: weights {local} not found and no download URL")
        return paths

    def load_folds(self, build: Callable[[Architecture], "torch.nn.Module"], cache_dir=None,
                   progress=None) -> list:
        """One network per fold, built by `build(self.architecture)`, weights verified, in eval mode
        (the same modules again while `fold_cache.keep_fold_models()` is on)."""
        return cached_folds(self, lambda: self._load_folds(build, cache_dir, progress))

    def _load_folds(self, build, cache_dir, progress) -> list:
        from .weights import load_weights  # torch: only when models are loaded, never to read the registry

        models = []
        for fold, path in zip(self.folds, self.fold_paths(cache_dir, progress)):
            model = build(self.architecture)
            load_weights(model, path, fold.sha256)
            models.append(model.eval())
        return models


class _RegistryFile:
    """One registry JSON file and its entries, kept as read so that saving preserves them."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.document = {"schema_version": SCHEMA_VERSION, "model_sets": []}
        if self.path.is_file():
            try:
                self.document = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"model registry {self.path}: not valid JSON ({error})") from error
        self.validate()

    def validate(self) -> None:
        validate(self.document, REGISTRY_SCHEMA, f"model registry {self.path}")

    def model_sets(self) -> list[ModelSet]:
        return [ModelSet.from_entry(entry, self.path.parent) for entry in self.document["model_sets"]]


class ModelRegistry:
    """Model sets of one or more registry files; the last file is the one `add`/`save` write."""

    def __init__(self, files: list[_RegistryFile]):
        self._files = files
        self._check_unique_names()

    @classmethod
    def load(cls, path=None) -> "ModelRegistry":
        """Load `path`, or the bundled registry followed by the per-user one (see module doc)."""
        if path is not None:
            if not Path(path).is_file():
                raise InputError(f"model registry {path}: file not found")
            return cls([_RegistryFile(path)])
        return cls([_RegistryFile(models_dir() / "registry.json"), _RegistryFile(user_registry_path())])

    @property
    def path(self) -> Path:
        """The registry file that `save` writes."""
        return self._files[-1].path

    def model_sets(self, task: str | None = None) -> list[ModelSet]:
        sets = [model_set for registry_file in self._files for model_set in registry_file.model_sets()]
        return [s for s in sets if task is None or s.task == task]

    def get(self, name: str) -> ModelSet:
        for model_set in self.model_sets():
            if model_set.name == name:
                return model_set
        known = ", ".join(s.name for s in self.model_sets()) or "none"
        raise InputError(f"unknown model set {name!r} (known: {known})")

    def default_for(self, task: str) -> ModelSet:
        """The set marked `default` for the task (a user's wins over a bundled one), else the
        one registered last; InputError when the task has none."""
        candidates = self.model_sets(task)
        if not candidates:
            raise InputError(f"no model set for task {task!r} in {', '.join(str(f.path) for f in self._files)}")
        marked = [s for s in candidates if s.default]
        return (marked or candidates)[-1]

    def add(self, entry: dict, replace: bool = False) -> ModelSet:
        """Register a model set in the writable file (call `save` to keep it).

        The entry is schema-checked, its local fold files must exist with the given checksums
        (or have a URL), and its card must validate and agree with it. `replace` overwrites a
        set of the same name in the writable file.
        """
        target = self._files[-1]
        name = entry.get("name")
        owners = [f.path for f in self._files if any(e["name"] == name for e in f.document["model_sets"])]
        if owners and not (replace and owners == [target.path]):
            hint = "pass replace=True to overwrite it" if owners == [target.path] else "choose another name"
            raise InputError(f"model set {name!r} is already registered in {owners[0]}; {hint}")
        entries = [e for e in target.document["model_sets"] if e["name"] != name]
        candidate = {**target.document, "model_sets": entries + [copy.deepcopy(entry)]}
        validate(candidate, REGISTRY_SCHEMA, f"model set {name or '?'}")
        model_set = ModelSet.from_entry(entry, target.path.parent)
        _check_task_known(model_set)
        self._check_files(model_set)
        model_set.card()
        target.document = candidate
        return model_set

    def save(self) -> Path:
        """Write the writable registry file atomically (after validating it)."""
        target = self._files[-1]
        target.validate()
        return write_json(target.path, target.document)

    def _check_unique_names(self) -> None:
        names = [s.name for s in self.model_sets()]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            files = ", ".join(str(f.path) for f in self._files)
            raise InputError(f"model set names defined more than once ({', '.join(duplicates)}) in {files}")

    @staticmethod
    def _check_files(model_set: ModelSet) -> None:
        for fold in model_set.folds:
            local = model_set.base_dir / fold.path
            if local.is_file():
                if sha256_file(local) != fold.sha256:
                    raise InputError(f"model set {model_set.name}: weights {local.name}: SHA-256 mismatch")
            elif not fold.url:
                raise InputError(f"model set {model_set.name}: weights {local} not found and no download URL")


def _check_task_known(model_set: ModelSet) -> None:
    """A model set must serve a built-in task or bring its task's package (`task_package`)."""
    from ..catalog import import_task_folder, task_specs

    package = model_set.entry.get("task_package")
    if package is not None:
        spec = getattr(import_task_folder((model_set.base_dir / package).resolve()), "SPEC", None)
        if spec is None or spec.name != model_set.task:
            raise InputError(f"model set {model_set.name}: {package} defines no task {model_set.task!r}")
    elif model_set.task not in task_specs():
        raise InputError(f"model set {model_set.name}: unknown task {model_set.task!r} (known: "
                         f"{', '.join(task_specs())}; a task that is not built in needs task_package)")
