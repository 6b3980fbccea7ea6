"""Presets of the four papers and JSON override files."""

import json

import pytest

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.catalog import presets
from BrainTumorAILib.training import TrainingConfig, load_config


def test_shin_preset_follows_the_paper():
    config = load_config("shin2021")
    assert (config.batch_size, config.optimizer, config.learning_rate, config.epochs) == (64, "adam", 1e-3, 100)
    assert config.freeze_backbone and config.model == {"dropout": 0.5, "norm": "batch", "input_size": 224}


def test_the_later_presets_are_expressible():
    grovik = load_config("grovik2020")
    assert (grovik.batch_size, grovik.sampler, grovik.positive_fraction) == (32, "balanced_positive_fraction", 0.5)
    assert grovik.loss == {"name": "bce", "pos_weight": 10.0} and grovik.weight_decay == 1e-5
    assert grovik.augmentations == ["flip", "rot90"]
    junger = load_config("junger2021")
    assert (junger.optimizer, junger.lr_scheduler) == ("rmsprop", "plateau")
    assert (junger.lr_factor, junger.lr_patience) == (0.5, 3)
    assert (junger.batch_size, junger.epochs, junger.folds, junger.patch_size) == (10, 35, 5, [25, 25, 25])
    assert junger.loss == {"name": "dice"} and junger.augmentations == ["flip"]
    chakrabarty = load_config("chakrabarty2021")  # the authors' public configuration
    assert chakrabarty.model["num_classes"] == 7 and chakrabarty.model["input_grid"]["size"] == 128
    assert chakrabarty.model["widths"][0] == 16 and len(chakrabarty.model["widths"]) == 5
    assert (chakrabarty.learning_rate, chakrabarty.batch_size, chakrabarty.epochs, chakrabarty.weight_decay) == \
        (5e-4, 5, 200, 1e-5)
    assert chakrabarty.model["flip_axes"] == [0, 1, 2] and "lesion_weight" not in chakrabarty.loss
    assert set(presets()) == {"shin2021", "shin2021-finetune", "grovik2020", "junger2021", "chakrabarty2021"}


def test_override_file_replaces_preset_values(tmp_path):
    path = tmp_path / "override.json"
    path.write_text(json.dumps({"epochs": 3, "batch_size": 4, "pretrained": "/data/resnet50.pth",
                                "model": {"dropout": 0.3}}))
    config = load_config("shin2021", path)
    assert (config.epochs, config.batch_size, config.pretrained) == (3, 4, "/data/resnet50.pth")
    assert config.model == {"dropout": 0.3}
    assert config.learning_rate == 1e-3 and config.name == "shin2021"
    assert load_config("shin2021").epochs == 100  # presets are not mutated by an override


@pytest.mark.parametrize("content, message", [
    ({"epochz": 3}, r"unknown key\(s\) epochz"),
    ({"optimizer": "adagrad"}, "optimizer must be one of adam, rmsprop, sgd"),
    ({"batch_size": "64"}, "batch_size must be a whole number >= 1"),
    ({"batch_size": True}, "batch_size must be a whole number >= 1"),
    ({"augmentations": ["elastic"]}, "augmentations must be a list drawn from flip, rot90"),
    ({"positive_fraction": 1.0}, r"positive_fraction must be a number in \(0, 1\)"),
    ({"folds": 1}, "folds must be at least 2"),
    ({"loss": "dice"}, "loss must be an object"),
    ([1, 2], "expected a JSON object"),
])
def test_bad_override_files_are_refused(tmp_path, content, message):
    path = tmp_path / "override.json"
    path.write_text(json.dumps(content))
    with pytest.raises(InputError, match=message):
        load_config("junger2021", path)


def test_unknown_preset_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(InputError, match="unknown preset 'resnet'"):
        load_config("resnet")
    broken = tmp_path / "broken.json"
    broken.write_text("{epochs: 3")
    with pytest.raises(InputError, match="cannot read JSON"):
        load_config("shin2021", broken)
    with pytest.raises(InputError, match="expected a .json file"):
        load_config("shin2021", tmp_path / "override.yaml")


def test_fingerprint_ignores_only_what_a_resume_may_change():
    base = TrainingConfig(epochs=5)
    assert TrainingConfig(epochs=50, device="cpu", num_workers=2).fingerprint() == base.fingerprint()
    assert TrainingConfig(epochs=5, learning_rate=1e-4).fingerprint() != base.fingerprint()
