"""The shared trainer on the toy task: learning, best checkpoint, exact resume, samplers."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_training_toy import ToyAdapter, single_thread, toy_cases, toy_config  # noqa: F401 (fixture)

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models.weights import load_weights, weights_metadata
from BrainTumorAILib.training import Trainer, augmentation_transform, validation_split
from BrainTumorAILib.training.distributed import DistributedContext
from BrainTumorAILib.training.loaders import train_loader
from BrainTumorAILib.training.checkpoint import TrainingState
from BrainTumorAILib.training.config import TrainingConfig
from BrainTumorAILib.training.trainer import build_optimizer, build_scheduler, stop_early


pytestmark = pytest.mark.usefixtures("single_thread")
SINGLE_CPU = DistributedContext(rank=0, world_size=1, device=torch.device("cpu"))


@pytest.fixture(scope="module")
def toy():
    cases = toy_cases(n_patients=8)
    adapter = ToyAdapter()
    adapter.prepare(cases, cache_dir=None)
    train, val = validation_split(cases, 0.25, seed=0)
    return adapter, train, val


def _accuracy(adapter, model, cases, config):
    dataset = adapter.dataset(cases, config, train=False)
    with torch.no_grad():
        outputs = model.eval()(torch.from_numpy(dataset.images))
    return adapter.validation_score(outputs, torch.from_numpy(dataset.labels))


def test_loss_decreases_and_the_best_checkpoint_is_the_best_epoch(toy, tmp_path):
    adapter, train, val = toy
    config = toy_config(epochs=5)
    result = Trainer(adapter, config, tmp_path).fit(train, val, fold=0)

    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 5 and losses[-1] < 0.7 * losses[0]
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    scores = [h["val_score"] for h in result.history]
    assert result.best_score == max(scores) and result.best_epoch == scores.index(max(scores)) + 1

    assert result.weights == tmp_path / "fold_0" / "best.safetensors"
    model = load_weights(adapter.build_model(config), result.weights, result.sha256)
    assert _accuracy(adapter, model, val, config) == pytest.approx(result.best_score)
    assert weights_metadata(result.weights)["epoch"] == result.best_epoch
    assert json.loads((tmp_path / "fold_0" / "history.json").read_text()) == result.history


def test_resume_repeats_the_uninterrupted_run(toy, tmp_path):
    adapter, train, val = toy
    # Augmentation, dropout, Adam moments and the plateau scheduler all carry state across epochs.
    settings = dict(augmentations=["flip", "rot90"], lr_scheduler="plateau", lr_patience=1, lr_factor=0.5)
    straight = Trainer(adapter, toy_config(epochs=4, **settings), tmp_path / "straight")
    straight_result = straight.fit(train, val, fold=1)

    Trainer(adapter, toy_config(epochs=2, **settings), tmp_path / "resumed").fit(train, val, fold=1)
    resumed = Trainer(adapter, toy_config(epochs=4, **settings), tmp_path / "resumed")
    resumed_result = resumed.fit(train, val, fold=1)

    assert resumed_result.history == straight_result.history
    assert resumed_result.best_epoch == straight_result.best_epoch
    best_straight, best_resumed = load_file(straight_result.weights), load_file(resumed_result.weights)
    assert all(torch.equal(best_straight[k], best_resumed[k]) for k in best_straight)
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name
    last_weights = sorted(p.name for p in (tmp_path / "resumed" / "fold_1").glob("last_epoch*"))
    assert last_weights == ["last_epoch0004.safetensors"]


def test_resume_refuses_other_settings_or_cases(toy, tmp_path):
    adapter, train, val = toy
    Trainer(adapter, toy_config(epochs=1), tmp_path).fit(train, val, fold=0)
    with pytest.raises(InputError, match="holds a run with other settings or other cases"):
        Trainer(adapter, toy_config(epochs=2, learning_rate=0.5), tmp_path).fit(train, val, fold=0)
    with pytest.raises(InputError, match="holds a run with other settings or other cases"):
        Trainer(adapter, toy_config(epochs=2), tmp_path).fit(train[1:], val, fold=0)


def test_resume_accepts_a_new_post_training_threshold_rule(toy, tmp_path):
    """mets-25d's threshold rule is read off the held-out predictions after training: changing
    it resumes the trained folds, while any other model setting still refuses."""
    adapter, train, val = toy
    first = Trainer(adapter, toy_config(epochs=1, model={"dropout": 0.2, "max_fp_per_case": 1.0}), tmp_path)
    first.fit(train, val, fold=0)
    resumed = Trainer(adapter, toy_config(epochs=1, model={"dropout": 0.2, "threshold_rule": "max_fp_per_case",
                                                           "max_fp_per_case": 2.0}), tmp_path).fit(train, val, fold=0)
    assert [entry["epoch"] for entry in resumed.history] == [1]  # nothing retrained
    with pytest.raises(InputError, match="holds a run with other settings or other cases"):
        Trainer(adapter, toy_config(epochs=1, model={"dropout": 0.3, "max_fp_per_case": 2.0}), tmp_path).fit(
            train, val, fold=0)


def test_resume_accepts_a_checkpoint_written_before_a_setting_became_resumable(toy, tmp_path):
    """Older checkpoints carry the threshold rule in their fingerprint: it must not block a resume."""
    adapter, train, val = toy
    config = toy_config(epochs=1, model={"dropout": 0.2, "threshold_rule": "max_fp_per_case", "max_fp_per_case": 1.0})
    Trainer(adapter, config, tmp_path).fit(train, val, fold=0)
    state_path = tmp_path / "fold_0" / "last_state.pt"
    state = torch.load(state_path, weights_only=True)
    stored = json.loads(state["fingerprint"])
    stored["config"]["model"].update(threshold_rule="max_fp_per_case", max_fp_per_case=1.0)
    torch.save({**state, "fingerprint": json.dumps(stored, sort_keys=True)}, state_path)

    resumed = Trainer(adapter, toy_config(epochs=2, model={"dropout": 0.2, "max_fp_per_case": 3.0}), tmp_path)
    assert [entry["epoch"] for entry in resumed.fit(train, val, fold=0).history] == [1, 2]
    rewritten = json.loads(torch.load(state_path, weights_only=True)["fingerprint"])
    assert "max_fp_per_case" not in rewritten["config"]["model"]


def test_balanced_sampler_draws_the_requested_positive_fraction(toy):
    adapter, train, _ = toy
    config = toy_config(sampler="balanced_positive_fraction", positive_fraction=0.75)
    dataset = adapter.dataset(train, config, train=True)
    assert np.mean(dataset.positive_flags()) == pytest.approx(0.5)
    drawn = torch.cat([batch["target"] for epoch in range(1, 6)
                       for batch in train_loader(dataset, config, SINGLE_CPU, fold=0, epoch=epoch)])
    assert abs(drawn.float().mean().item() - 0.75) < 0.08

    only_negatives = adapter.dataset([c for c in train if c.label == "noise"], config, train=True)
    with pytest.raises(InputError, match="0 positive and .* negative samples"):
        train_loader(only_negatives, config, SINGLE_CPU, fold=0, epoch=1)


def test_augmentation_moves_image_and_mask_together():
    transform = augmentation_transform(["flip", "rot90"], ["input", "target"], spatial_dims=3)
    transform.set_random_state(seed=0)
    image = torch.arange(3 * 4 * 5, dtype=torch.float32).reshape(1, 3, 4, 5)
    seen = set()
    for _ in range(12):
        item = transform({"input": image.clone(), "target": image > 30})
        assert type(item["input"]) is torch.Tensor  # plain tensors, no MONAI metadata
        assert torch.equal(item["target"], item["input"] > 30)
        assert sorted(item["input"].flatten().tolist()) == sorted(image.flatten().tolist())
        seen.add(tuple(item["input"].flatten()[:3].tolist()))
    assert len(seen) > 3  # several distinct flips/turns were drawn


def test_thick_slice_blurs_each_image_along_one_axis_and_never_the_mask():
    transform = augmentation_transform(["thick_slice"], ["t1ce", "t2", "target"], spatial_dims=2,
                                       image_keys=["t1ce", "t2"])
    transform.set_random_state(seed=0)
    point = torch.zeros(1, 21, 21)
    point[0, 10, 10] = 1.0
    axes_seen, independent = set(), False
    for _ in range(40):
        item = transform({"t1ce": point.clone(), "t2": point.clone(), "target": point > 0})
        assert torch.equal(item["target"], point > 0)
        blurred = {}
        for key in ("t1ce", "t2"):
            image = item[key][0]
            assert image.sum().item() == pytest.approx(1.0, abs=1e-4)  # blur keeps the signal
            rows, columns = image[:, 10] > 1e-3, image[10, :] > 1e-3
            assert not (rows.sum() > 1 and columns.sum() > 1)  # along one axis only
            blurred[key] = "rows" if rows.sum() > 1 else "columns" if columns.sum() > 1 else None
            axes_seen.add(blurred[key])
        independent |= blurred["t1ce"] != blurred["t2"]
    assert axes_seen == {None, "rows", "columns"}
    assert independent  # each sequence gets its own slice profile

    with pytest.raises(ValueError, match="image keys"):
        augmentation_transform(["thick_slice"], ["input"], spatial_dims=2)


def test_optimizers_and_plateau_schedule():
    parameters = [torch.nn.Parameter(torch.zeros(2))]
    kinds = {name: type(build_optimizer(parameters, toy_config(optimizer=name, momentum=0.5)))
             for name in ("adam", "rmsprop", "sgd")}
    assert kinds == {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD}
    optimizer = build_optimizer(parameters, toy_config(weight_decay=1e-5))
    assert optimizer.param_groups[0]["weight_decay"] == 1e-5
    assert build_scheduler(optimizer, toy_config()) is None
    scheduler = build_scheduler(optimizer, toy_config(lr_scheduler="plateau", lr_factor=0.5, lr_patience=3))
    initial = optimizer.param_groups[0]["lr"]
    lrs = []
    for score in (0.5, 0.5, 0.5, 0.5, 0.6):  # epochs 2-4 bring no improvement: halve (Jünger 2021)
        scheduler.step(score)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == pytest.approx([initial, initial, initial, initial / 2, initial / 2])


def test_early_stopping_counts_epochs_without_a_better_validation_score():
    state = TrainingState(fingerprint="x", epoch=7, best_epoch=4)
    assert stop_early(state, TrainingConfig(early_stopping_patience=3))
    assert not stop_early(state, TrainingConfig(early_stopping_patience=4))
    assert not stop_early(state, TrainingConfig())  # 0: never
