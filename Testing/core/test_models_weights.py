"""Weights: safetensors round trip, checksum before parsing, architecture check, no pickle code."""

import io
import pickle
import zipfile

import pytest
import torch

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models import load_weights, save_weights, sha256_file, weights_metadata


def small_net(channels: int = 4) -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv3d(2, channels, 3), torch.nn.BatchNorm3d(channels), torch.nn.ReLU(),
        torch.nn.Conv3d(channels, 1, 1))


def seeded_net(seed: int, channels: int = 4) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = small_net(channels)
    net[1].running_mean.normal_()  # buffers count too
    return net


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_state_equal(model, state):
    current = model.state_dict()
    assert current.keys() == state.keys()
    for key in state:
        assert torch.equal(current[key], state[key]), key


@pytest.fixture()
def saved(tmp_path):
    source = seeded_net(0)
    path = tmp_path / "fold0.safetensors"
    digest = save_weights(source, path, {"architecture": "small_net", "fold": 0})
    return source, path, digest


def test_round_trip_restores_every_tensor_and_metadata(saved):
    source, path, digest = saved
    assert digest == sha256_file(path) and len(digest) == 64
    target = seeded_net(1)
    assert not torch.equal(target[0].weight, source[0].weight)
    assert load_weights(target, path, digest) is target
    assert_state_equal(target, source.state_dict())
    assert weights_metadata(path) == {"architecture": "small_net", "fold": 0}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_identical_weights_hash_identically_whatever_the_metadata_order(saved, tmp_path):
    source, _, digest = saved
    again = save_weights(source, tmp_path / "again.safetensors", {"fold": 0, "architecture": "small_net"})
    assert again == digest


def test_tampered_byte_is_refused_and_model_untouched(saved):
    _, path, digest = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    target = seeded_net(1)
    before = snapshot(target)
    with pytest.raises(InputError, match=r"fold0.safetensors: SHA-256 mismatch \(tampered or corrupt file\)"):
        load_weights(target, path, digest)
    assert_state_equal(target, before)


def test_truncated_file_with_matching_checksum_is_not_parsed_into_model(saved):
    _, path, _ = saved
    path.write_bytes(path.read_bytes()[:200])
    target = seeded_net(1)
    before = snapshot(target)
    with pytest.raises(InputError, match="not a valid safetensors file"):
        load_weights(target, path, sha256_file(path))
    assert_state_equal(target, before)


def test_wrong_shapes_name_the_architecture_mismatch(saved):
    _, path, digest = saved
    wider = seeded_net(1, channels=6)
    before = snapshot(wider)
    with pytest.raises(InputError, match=r"wrong architecture for Sequential: shape mismatch .*0\.weight \(4, 2, 3, 3, 3\) vs \(6, 2, 3, 3, 3\)"):
        load_weights(wider, path, digest)
    assert_state_equal(wider, before)


def test_missing_and_unexpected_keys_are_listed(saved):
    _, path, digest = saved
    deeper = torch.nn.Sequential(*small_net(), torch.nn.Conv3d(1, 1, 1))
    with pytest.raises(InputError, match=r"missing keys: 4\.bias, 4\.weight"):
        load_weights(deeper, path, digest)
    shallower = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3))
    before = snapshot(shallower)
    with pytest.raises(InputError, match=r"unexpected keys: 1\.bias, 1\.num_batches_tracked, 1\.running_mean \(\+4 more\)"):
        load_weights(shallower, path, digest)
    assert_state_equal(shallower, before)


@pytest.mark.parametrize("wrap", [False, True])
def test_plain_torch_state_dict_loads_with_weights_only(tmp_path, wrap):
    source = seeded_net(0)
    path = tmp_path / "fold.pt"
    torch.save({"state_dict": source.state_dict()} if wrap else source.state_dict(), path)
    target = load_weights(seeded_net(1), path, sha256_file(path))
    assert_state_equal(target, source.state_dict())


class _Payload:
    """Unpickling this opens (creates) the marker file: proof that code would have run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


class _TensorsStubbed(pickle.Unpickler):
    """Unpickles a torch checkpoint's data.pkl as any unsafe loader would, tensors left out."""

    def persistent_load(self, pid):
        return None

    def find_class(self, module, name):
        if module.startswith("torch"):
            return lambda *args, **kwargs: None
        return super().find_class(module, name)


def test_pickle_with_code_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"0.weight": torch.zeros(1), "trap": _Payload(marker)}, path)
    target = seeded_net(1)
    before = snapshot(target)
    with pytest.raises(InputError, match=r"evil.pt: refused, the file holds more than plain tensors \(unpickling it would call (io|builtins)\.open\)"):
        load_weights(target, path, sha256_file(path))
    assert not marker.exists()
    assert_state_equal(target, before)
    # The payload is live: plain unpickling of the checkpoint's data.pkl (what an unsafe loader
    # does, tensors stubbed out) runs it.
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
    _TensorsStubbed(io.BytesIO(data)).load()
    assert marker.exists()


def test_raw_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(_Payload(marker), protocol=2))
    with pytest.raises(InputError, match="refused"):
        load_weights(seeded_net(1), path, sha256_file(path))
    assert not marker.exists()


def test_unknown_format_missing_file_and_wrong_save_suffix(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(InputError, match="unknown format"):
        load_weights(seeded_net(1), path, sha256_file(path))
    with pytest.raises(InputError, match="file not found"):
        load_weights(seeded_net(1), tmp_path / "absent.safetensors", "0" * 64)
    with pytest.raises(ValueError, match="safetensors"):
        save_weights(seeded_net(1), tmp_path / "fold.pt", {})
