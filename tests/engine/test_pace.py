"""The pace of a training step, measured once per machine: the speed recipes' images/s, and the trainer's choice of
precision from the model's own step where the CPU has native bf16."""

from __future__ import annotations

import json

import torch

from foveal.config import TrainConfig
from foveal.engine import device as dev
from foveal.engine import pace
from foveal.engine.trainer import Trainer
from foveal.models.registry import create_model
from foveal.tasks.classify.task import ClassifyTask


def _fastnet():
    return create_model("fastnet", num_classes=10, in_channels=1, img_size=(28, 28), hidden=8)


def test_a_pace_is_measured_once_per_machine_and_network(monkeypatch, tmp_path):
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path))
    rate = pace.step_rate(_fastnet, (1, 28, 28), 64, 10, None, True, seconds=0.2)
    assert 10 < rate < 1e6
    calls = []
    monkeypatch.setattr(pace, "step_rate", lambda *a: calls.append(a) or 1234.5)
    first = pace.training_pace("fastnet hidden 8", _fastnet, (1, 28, 28), 64, 10, None, True)
    again = pace.training_pace("fastnet hidden 8", _fastnet, (1, 28, 28), 64, 10, None, True)
    other = pace.training_pace("fastnet hidden 8", _fastnet, (1, 28, 28), 128, 10, None, True)  # another batch
    assert first == again == other == 1234.5 and len(calls) == 2
    keys = list(json.loads((tmp_path / "cpu_speed.json").read_text()))
    assert any("pace fastnet hidden 8 1x28x28 batch 64 fp32 channels_last" in k for k in keys)
    assert all(k.startswith(dev.machine_key()) for k in keys)


def _run(tmp_path, digits, name):
    cfg = TrainConfig(model="tinyvgg", hidden=4, data="digits", epochs=1, batch_size=64, lr=0.05, seed=3,
                      project=str(tmp_path), name=name)
    trainer = Trainer(cfg, digits, ClassifyTask, progress=False)
    return trainer, trainer.fit()


def test_where_bf16_is_native_the_models_own_step_decides_once(monkeypatch, tmp_path, digits):
    """The generic probe says bf16; the model's step is measured in both precisions (here bf16 is emulated, so
    slower: fp32 wins), once; a run draws the same random numbers whether it measured or read the answer."""
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(dev, "cpu_bf16_pays", lambda: True)
    measured = []
    original_steps = pace.step_seconds

    def counting(*a, **k):
        measured.append(a[3])
        return original_steps(*a, **k)

    monkeypatch.setattr(pace, "step_seconds", counting)
    trainer, first = _run(tmp_path, digits, "measured")
    assert measured == [None, torch.bfloat16]  # fp32, then bf16, on a copy of the model
    speedup = next(v for k, v in json.loads((tmp_path / "cache" / "cpu_speed.json").read_text()).items()
                   if "bf16 speedup classify tinyvgg" in k)
    assert trainer.amp == (torch.bfloat16 if speedup >= dev.BF16_MIN_SPEEDUP else None)
    trainer, second = _run(tmp_path, digits, "cached")
    assert len(measured) == 2  # read back, not measured again
    assert second.metrics["accuracy"] == first.metrics["accuracy"] and second.metrics["loss"] == first.metrics["loss"]
