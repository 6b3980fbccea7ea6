"""Refusals of pickled training checkpoints and pretrained files: one line, the pickle never runs,
and never a hint to re-run torch.load with weights_only=False (the one unsafe step)."""

import pytest
import torch
from monai.networks.nets import ResNet

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.networks.slice_resnet import load_torchvision_resnet50
from BrainTumorAILib.training.checkpoint import LAST_STATE, load_last


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_file(path, marker):
    torch.save({"fingerprint": "x", "trap": _Payload(marker)}, path)
    return path


def check_one_safe_line(error: InputError, marker):
    text = str(error)
    assert len(text.splitlines()) == 1, text
    assert "weights_only" not in text and "trust" not in text, text
    assert "refused, the file holds more than plain tensors (unpickling it would call" in text, text
    assert not marker.exists()


def test_a_pickled_resume_state_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "pwned"
    fold = tmp_path / "fold_0"
    fold.mkdir()
    _evil_file(fold / LAST_STATE, marker)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(InputError, match=r"checkpoint .*last_state\.pt: refused") as refused:
        load_last(fold, model, optimizer, None, expected_fingerprint="x")
    check_one_safe_line(refused.value, marker)


def test_a_pickled_pretrained_file_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "pwned"
    path = _evil_file(tmp_path / "resnet50.pth", marker)
    model = ResNet("bottleneck", [1, 1, 1, 1], [8, 16, 32, 64], spatial_dims=2, n_input_channels=3, num_classes=2)
    with pytest.raises(InputError, match=r"pretrained weights .*resnet50\.pth: refused") as refused:
        load_torchvision_resnet50(model, path)
    check_one_safe_line(refused.value, marker)


def test_a_truncated_resume_state_is_named_in_one_line(tmp_path):
    fold = tmp_path / "fold_0"
    fold.mkdir()
    (fold / LAST_STATE).write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(InputError, match=r"checkpoint .*: unreadable") as refused:
        load_last(fold, torch.nn.Linear(2, 1), torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1), None, "x")
    assert len(str(refused.value).splitlines()) == 1
