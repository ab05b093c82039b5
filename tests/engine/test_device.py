import json

import pytest
import torch
import torch.nn as nn

from foveal.engine import device as dev
from foveal.engine.progress import EpochProgress
from foveal.engine.trainer import Trainer
from foveal.errors import FovealError


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert dev.select_device("auto").type == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert dev.select_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.select_device("auto").type == "cuda"


def test_named_devices_are_checked(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.select_device("cpu").type == "cpu"
    with pytest.raises(FovealError, match="no CUDA GPU"):
        dev.select_device("cuda:0")
    with pytest.raises(FovealError, match="device must be"):
        dev.select_device("tpu")


def test_bf16_and_channels_last_only_where_they_pay(monkeypatch):
    conv, mlp = nn.Sequential(nn.Conv2d(1, 2, 3)), nn.Sequential(nn.Linear(2, 2))
    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "cpu_bf16_pays", lambda: True)
    assert dev.autocast_dtype("auto", cpu, conv) == torch.bfloat16
    assert dev.autocast_dtype("auto", cpu, mlp) is None
    assert dev.autocast_dtype("off", cpu, conv) is None and dev.autocast_dtype("bf16", cpu, mlp) == torch.bfloat16
    monkeypatch.setattr(dev, "cpu_bf16_pays", lambda: False)
    assert dev.autocast_dtype("auto", cpu, conv) is None
    assert dev.use_channels_last(None, conv) and not dev.use_channels_last(None, mlp) and dev.use_channels_last(True, mlp)


def test_bf16_is_chosen_by_its_measured_speed_once_per_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path))
    monkeypatch.setattr(dev, "cpu_has_bf16", lambda: True)
    calls = []
    monkeypatch.setattr(dev, "bf16_speedup", lambda: calls.append(1) or 0.6)
    dev.cpu_bf16_pays.cache_clear()
    try:
        assert not dev.cpu_bf16_pays() and len(calls) == 1
        assert list(json.loads((tmp_path / "cpu_speed.json").read_text()).values()) == [0.6]
        dev.cpu_bf16_pays.cache_clear()
        assert not dev.cpu_bf16_pays() and len(calls) == 1  # read back, not measured again
        monkeypatch.setattr(dev, "bf16_speedup", lambda: 1.5)
        (tmp_path / "cpu_speed.json").unlink()
        dev.cpu_bf16_pays.cache_clear()
        assert dev.cpu_bf16_pays()
        monkeypatch.setattr(dev, "cpu_has_bf16", lambda: False)
        dev.cpu_bf16_pays.cache_clear()
        assert not dev.cpu_bf16_pays()  # no native bf16: not even measured
    finally:
        dev.cpu_bf16_pays.cache_clear()


def test_bf16_speedup_is_a_positive_ratio_even_inside_inference_mode():
    assert 0.05 < dev.bf16_speedup(reps=1) < 20
    with torch.inference_mode():
        assert 0.05 < dev.bf16_speedup(reps=1) < 20


def test_progress_line_shows_loss_accuracy_and_speed():
    from types import SimpleNamespace

    from foveal.tasks.classify.task import ClassifyTask

    line = Trainer._stats(SimpleNamespace(task=ClassifyTask), torch.tensor(64.0), torch.tensor(24), 32, start=0.0)
    assert line.startswith("train loss 2.0000 accuracy 0.7500") and line.endswith("img/s")  # the bar shows training figures
    bar = EpochProgress(1, 3, 10, enabled=False)
    assert not bar.due()
