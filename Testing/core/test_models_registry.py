"""Registry and model cards: schema validation, lookup, registering, user registry, fold files."""

import copy
import json

import pytest
import torch

from BrainTumorAILib.catalog import task_spec, task_specs
from BrainTumorAILib.demo_weights import recipe_config
from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models import (
    DEMO_NOTICE, ModelRegistry, load_card, models_dir, save_weights, sha256_file, write_card)
from BrainTumorAILib.training.task_adapters import create_adapter


def tiny_net(architecture=None) -> torch.nn.Module:
    return torch.nn.Conv3d(1, 2, 3)


def make_model_set(folder, name="mets-3d-demo", task="mets-3d", folds=2, default=False) -> dict:
    """Write fold weights and a card under `folder`; return the registry entry describing them."""
    files = []
    for fold in range(folds):
        torch.manual_seed(fold)
        path = folder / name / f"fold{fold}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        files.append({"path": f"{name}/{path.name}", "sha256": save_weights(tiny_net(), path, {"fold": fold})})
    entry = {
        "name": name, "task": task, "version": "0.1.0",
        "architecture": {"name": "tiny_net", "config": {"in_channels": 1}},
        "inputs": ["t1ce", "flair"], "preprocessing": {"spacing_mm": 1.0, "normalisation": "zscore"},
        "classes": ["background", "metastasis"], "thresholds": {"probability": 0.5, "min_lesion_mm3": 3.0},
        "folds": files, "card": f"{name}/model_card.json", "demo": True, "notice": DEMO_NOTICE,
        "default": default,
    }
    card = {
        "name": name, "version": "0.1.0", "task": task, "demo": True, "notice": DEMO_NOTICE,
        "architecture": entry["architecture"], "inputs": entry["inputs"],
        "preprocessing": entry["preprocessing"], "classes": entry["classes"],
        "cutoffs": {"probability": {"value": 0.5, "how_chosen": "Youden index on the validation folds"},
                    "min_lesion_mm3": {"value": 3.0, "how_chosen": "Juenger 2021 noise filter"}},
        "training_data": {"description": "synthetic phantom heads", "n_cases": 40, "synthetic": True},
        "metrics": [{"name": "lesion sensitivity", "value": 0.8, "dataset": "synthetic test", "n_cases": 10,
                     "ci": {"level": 0.95, "low": 0.6, "high": 0.9, "method": "bootstrap, 1000 draws"}}],
        "intended_use": "demonstration of the pipeline",
        "limitations": ["trained on synthetic phantoms only"],
        "files": files,
    }
    write_card(card, folder / entry["card"])
    return entry


def write_registry(path, entries):
    path.write_text(json.dumps({"schema_version": 1, "model_sets": entries}))
    return path

BUNDLED_WEIGHTS_BUDGET_BYTES = 40 * 10**6  # all bundled demo weights together (developers' brief)


def test_bundled_weights_stay_within_their_budget_and_each_set_has_a_card():
    weights = sorted(models_dir().glob("*/*.safetensors"))
    assert weights and sum(path.stat().st_size for path in weights) <= BUNDLED_WEIGHTS_BUDGET_BYTES
    assert all((path.parent / "model_card.json").is_file() for path in weights)


def test_each_bundled_demo_card_states_its_recipe():
    """The card's honest fields come from the recipe `make weights` ran: the augmentations the
    training really applied, the paper, and every limitation the recipe names."""
    checked = 0
    for task, spec in task_specs().items():
        if not spec.demo_set:
            continue
        recipe = task_spec(task).part("demo_set")
        card = load_card(models_dir() / recipe["name"] / "model_card.json")
        adapter = create_adapter(task)
        config = recipe_config(recipe, adapter)
        assert card["training"]["augmentations"] == adapter.augmentations_applied(config), task
        assert card["training"]["model"] == config.model and card["training"]["epochs"] == config.epochs, task
        assert card["references"] and set(recipe.get("limitations", [])) <= set(card["limitations"]), task
        checked += 1
    assert checked == 4


@pytest.fixture()
def registry_file(tmp_path):
    return write_registry(tmp_path / "registry.json", [make_model_set(tmp_path)])


def test_bundled_registry_is_valid_and_every_set_has_its_card_and_files():
    registry = ModelRegistry.load(models_dir() / "registry.json")
    for model_set in registry.model_sets():
        assert model_set.card()["name"] == model_set.name
        assert not model_set.demo or model_set.notice
        for fold in model_set.folds:
            local = model_set.base_dir / fold.path
            assert fold.url or sha256_file(local) == fold.sha256


def test_good_registry_loads_with_every_field(registry_file):
    registry = ModelRegistry.load(registry_file)
    model_set = registry.get("mets-3d-demo")
    assert (model_set.task, model_set.version, model_set.architecture.name) == ("mets-3d", "0.1.0", "tiny_net")
    assert model_set.architecture.config == {"in_channels": 1}
    assert model_set.inputs == ["t1ce", "flair"] and model_set.classes == ["background", "metastasis"]
    assert model_set.thresholds == {"probability": 0.5, "min_lesion_mm3": 3.0}
    assert [f.path for f in model_set.folds] == ["mets-3d-demo/fold0.safetensors", "mets-3d-demo/fold1.safetensors"]
    assert model_set.demo and model_set.notice == DEMO_NOTICE
    assert model_set.describe()["notice"] == DEMO_NOTICE
    assert model_set.card()["cutoffs"]["probability"]["how_chosen"].startswith("Youden")
    assert registry.model_sets("mets-3d") == [model_set] and registry.model_sets("gbm-met") == []
    assert registry.default_for("mets-3d") == model_set


BAD_REGISTRIES = [
    (lambda d: d["model_sets"][0].pop("task"), "'task' is a required property"),
    (lambda d: d["model_sets"][0].update(task="Liver!"), "'Liver!' does not match"),
    (lambda d: d["model_sets"][0]["folds"][0].update(sha256="XYZ"), "does not match .* \\(at model_sets/0/folds/0/sha256\\)"),
    (lambda d: d["model_sets"][0].pop("notice"), "'notice' is a required property"),
    (lambda d: d["model_sets"][0].update(threshold=0.5), "'threshold' was unexpected"),
    (lambda d: d["model_sets"][0]["inputs"].append("dwi"), "'dwi' is not one of"),
    (lambda d: d.update(schema_version=2), "1 was expected"),
    (lambda d: d["model_sets"].append(copy.deepcopy(d["model_sets"][0])), "defined more than once \\(mets-3d-demo\\)"),
]


@pytest.mark.parametrize("spoil, message", BAD_REGISTRIES)
def test_bad_registry_is_refused_with_the_reason(registry_file, spoil, message):
    document = json.loads(registry_file.read_text())
    spoil(document)
    registry_file.write_text(json.dumps(document))
    with pytest.raises(InputError, match=message):
        ModelRegistry.load(registry_file)


def test_unreadable_or_missing_registry(tmp_path):
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        ModelRegistry.load(tmp_path / "registry.json")
    with pytest.raises(InputError, match="file not found"):
        ModelRegistry.load(tmp_path / "absent.json")


def test_models_dir_override_and_search(tmp_path, monkeypatch):
    assert (models_dir() / "registry.json").is_file()
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(tmp_path))
    with pytest.raises(InputError, match="BRAINTUMORAI_MODELS=.*no registry.json"):
        models_dir()
    write_registry(tmp_path / "registry.json", [])
    assert models_dir() == tmp_path


def test_add_save_and_reload_round_trip(tmp_path):
    registry_file = write_registry(tmp_path / "registry.json", [])
    registry = ModelRegistry.load(registry_file)
    registry.add(make_model_set(tmp_path, "mets-3d-a"))
    registry.add(make_model_set(tmp_path, "mets-3d-b", default=True))
    registry.add(make_model_set(tmp_path, "mets-3d-c"))
    assert registry.save() == registry_file
    reloaded = ModelRegistry.load(registry_file)
    assert [s.name for s in reloaded.model_sets()] == ["mets-3d-a", "mets-3d-b", "mets-3d-c"]
    assert reloaded.default_for("mets-3d").name == "mets-3d-b"
    with pytest.raises(InputError, match="no model set for task 'tumour-type'"):
        reloaded.default_for("tumour-type")
    with pytest.raises(InputError, match="unknown model set 'x' \\(known: mets-3d-a, mets-3d-b, mets-3d-c\\)"):
        reloaded.get("x")


def test_load_folds_gives_verified_networks_in_eval_mode(registry_file):
    model_set = ModelRegistry.load(registry_file).get("mets-3d-demo")
    networks = model_set.load_folds(tiny_net)
    assert len(networks) == 2 and not networks[0].training
    torch.manual_seed(1)
    assert torch.equal(networks[1].weight, tiny_net().weight)


def test_add_refuses_wrong_files_cards_and_names(tmp_path):
    registry = ModelRegistry.load(write_registry(tmp_path / "registry.json", []))
    entry = make_model_set(tmp_path)
    wrong_sha = copy.deepcopy(entry)
    wrong_sha["folds"][0]["sha256"] = "0" * 64
    with pytest.raises(InputError, match="fold0.safetensors: SHA-256 mismatch"):
        registry.add(wrong_sha)
    other_threshold = copy.deepcopy(entry)
    other_threshold["thresholds"]["probability"] = 0.9
    with pytest.raises(InputError, match="does not match model set mets-3d-demo: cut-offs"):
        registry.add(other_threshold)
    no_file = copy.deepcopy(entry)
    no_file["folds"][1]["path"] = "absent.safetensors"
    with pytest.raises(InputError, match="absent.safetensors not found and no download URL"):
        registry.add(no_file)
    with pytest.raises(InputError, match="'version' is a required property"):
        registry.add({k: v for k, v in entry.items() if k != "version"})
    with pytest.raises(InputError, match="unknown task 'liver' .*task_package"):
        registry.add({**entry, "task": "liver"})
    assert registry.model_sets() == []
    registry.add(entry)
    with pytest.raises(InputError, match="already registered .*pass replace=True"):
        registry.add(entry)
    assert registry.add(entry, replace=True).name == "mets-3d-demo"
    assert len(registry.model_sets()) == 1


def test_card_schema_and_consistency_are_checked(registry_file):
    model_set = ModelRegistry.load(registry_file).get("mets-3d-demo")
    card = json.loads(model_set.card_path.read_text())
    card["demo"] = False
    model_set.card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="does not match model set mets-3d-demo: demo False vs True"):
        model_set.card()
    del card["metrics"][0]["ci"]
    model_set.card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="model card model_card.json: 'ci' is a required property \\(at metrics/0\\)"):
        load_card(model_set.card_path)


def test_user_registry_is_merged_and_the_bundled_one_untouched(tmp_path, monkeypatch):
    bundled_dir, cache = tmp_path / "bundled", tmp_path / "cache"
    bundled_dir.mkdir()
    bundled = write_registry(bundled_dir / "registry.json", [make_model_set(bundled_dir, default=True)])
    bundled_bytes = bundled.read_bytes()
    monkeypatch.setenv("BRAINTUMORAI_MODELS", str(bundled_dir))
    monkeypatch.setenv("BRAINTUMORAI_CACHE", str(cache))
    registry = ModelRegistry.load()
    assert registry.path == cache / "registry.json"
    cache.mkdir()
    registry.add(make_model_set(cache, "mets-3d-mine", default=True))
    with pytest.raises(InputError, match="already registered in .*bundled.*choose another name"):
        registry.add(make_model_set(cache, "mets-3d-demo"), replace=True)
    registry.save()
    merged = ModelRegistry.load()
    assert [s.name for s in merged.model_sets()] == ["mets-3d-demo", "mets-3d-mine"]
    assert merged.default_for("mets-3d").name == "mets-3d-mine"
    assert merged.get("mets-3d-mine").fold_paths()[0] == cache / "mets-3d-mine" / "fold0.safetensors"
    assert bundled.read_bytes() == bundled_bytes


def test_fold_paths_use_the_cache_or_download(tmp_path):
    source = tmp_path / "published"
    source.mkdir()
    entry = make_model_set(source)
    for fold in entry["folds"]:
        fold["url"] = (source / fold["path"]).as_uri()
    registry_dir, cache = tmp_path / "installed", tmp_path / "cache"
    registry_dir.mkdir()
    (registry_dir / "mets-3d-demo").mkdir()
    (registry_dir / entry["card"]).write_bytes((source / entry["card"]).read_bytes())
    registry = ModelRegistry.load(write_registry(registry_dir / "registry.json", [entry]))
    paths = registry.get("mets-3d-demo").fold_paths(cache_dir=cache)
    assert [p.parent for p in paths] == [cache / "weights"] * 2
    assert [sha256_file(p) for p in paths] == [f["sha256"] for f in entry["folds"]]

    offline = copy.deepcopy(entry)
    for fold in offline["folds"]:
        del fold["url"]
    registry = ModelRegistry.load(write_registry(registry_dir / "registry.json", [offline]))
    assert registry.get("mets-3d-demo").fold_paths(cache_dir=cache) == paths
    with pytest.raises(InputError, match="fold0.safetensors not found and no download URL"):
        registry.get("mets-3d-demo").fold_paths(cache_dir=tmp_path / "empty-cache")
