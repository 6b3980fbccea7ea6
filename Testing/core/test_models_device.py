"""Device choice and the out-of-memory fallback (no GPU here: the OOM is simulated)."""

import pytest
import torch

from BrainTumorAILib.errors import InputError
from BrainTumorAILib.models import DeviceFallbackWarning, DeviceRunner, run_with_oom_fallback, select_device


@pytest.fixture()
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_takes_cpu_without_cuda(no_cuda):
    assert select_device("auto") == torch.device("cpu")
    assert select_device(" CPU ") == torch.device("cpu")


def test_auto_takes_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert select_device("auto").type == "cuda"
    assert select_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(InputError, match="only 1 CUDA device"):
        select_device("cuda:1")


def test_cuda_without_gpu_and_unknown_names_are_clear_errors(no_cuda):
    with pytest.raises(InputError, match="device cuda: no CUDA GPU available.*use --device cpu or auto"):
        select_device("cuda")
    with pytest.raises(InputError, match="unknown device 'tpu': use auto, cpu or cuda"):
        select_device("tpu")


class FlakyGpuInference:
    """Raises CUDA out-of-memory on its first call, then computes; records the devices it saw."""

    def __init__(self):
        self.devices = []

    def __call__(self, model, volume):
        self.devices.append(volume.device.type)
        if len(self.devices) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return model(volume)


def test_out_of_memory_falls_back_to_cpu_with_a_warning():
    # "meta" stands in for the GPU: tensors move there without any CUDA; a parameter-free
    # model keeps the round trip meta -> CPU lossless.
    runner = DeviceRunner(torch.device("meta"))
    inference = FlakyGpuInference()
    volume = torch.arange(6.0).reshape(1, 6)
    with pytest.warns(DeviceFallbackWarning, match="meta: CUDA out of memory. Tried to allocate 2.00 GiB; continuing on the CPU"):
        result = runner.run(inference, torch.nn.Softmax(dim=1), volume)
    assert torch.allclose(result, torch.softmax(volume, dim=1))
    assert inference.devices == ["meta", "cpu"]
    assert runner.device == torch.device("cpu") and runner.fell_back
    runner.run(inference, torch.nn.Softmax(dim=1), volume)  # later calls stay on the CPU
    assert inference.devices == ["meta", "cpu", "cpu"]


def test_out_of_memory_on_cpu_is_not_hidden():
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_with_oom_fallback(FlakyGpuInference(), torch.nn.Identity(), torch.zeros(2), device="cpu")


def test_one_off_helper_runs_on_the_chosen_device(no_cuda):
    model = torch.nn.Linear(3, 1)
    out = run_with_oom_fallback(lambda m, x: m(x), model, torch.ones(2, 3))
    assert out.shape == (2, 1) and out.device.type == "cpu"
