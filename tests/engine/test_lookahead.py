import pytest
import torch
import torch.nn as nn

from foveal.api import Model
from foveal.config import TrainConfig
from foveal.engine.checkpoint import load_checkpoint
from foveal.engine.lookahead import BASE, EVERY, Lookahead
from foveal.tasks.classify.task import ClassifyTask
from foveal.engine.trainer import Trainer


def test_decay_grows_from_nothing_to_the_base_at_the_end():
    assert Lookahead.decay(0, 1000) == 0
    assert Lookahead.decay(500, 1000) == pytest.approx(BASE**EVERY / 8)
    assert Lookahead.decay(1000, 1000) == pytest.approx(BASE**EVERY)
    assert Lookahead.decay(2000, 1000) == pytest.approx(BASE**EVERY)  # a run stretched past its plan


def test_every_few_steps_the_model_is_set_to_the_moved_average():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    look = Lookahead(model)
    start = [t.clone() for t in look.average]
    with torch.no_grad():  # training moves every weight and running statistic by 1
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(1.0)
    look.after_step(EVERY - 1, total_steps=EVERY)  # not an update step: nothing moves
    assert torch.equal(model[0].weight, start[0] + 1)
    look.after_step(EVERY, total_steps=EVERY)  # the last step: the average keeps BASE**EVERY of itself
    keep = BASE**EVERY
    state = [t for t in model.state_dict().values() if t.is_floating_point()]
    for s, t, a in zip(start, state, look.average):
        assert torch.allclose(a, keep * s + (1 - keep) * (s + 1))
        assert torch.equal(t, a)  # the model is the average
    assert model[1].num_batches_tracked.dtype == torch.long  # integer buffers are left alone


def fit(tmp_path, digits, **kw):
    cfg = TrainConfig(**{"model": "mlp", "data": "digits", "epochs": 2, "lr": 0.2, "momentum": 0.9,
                         "schedule": "onecycle", "project": str(tmp_path), **kw})
    return Trainer(cfg, digits, ClassifyTask, progress=False).fit()


def test_lookahead_changes_the_run_and_resumes_exactly(tmp_path, digits, killed_in_epoch):
    plain_run = fit(tmp_path, digits, name="plain", epochs=3)
    plain = load_checkpoint(plain_run.last)
    full = fit(tmp_path, digits, name="full", epochs=3, lookahead=True)
    a = load_checkpoint(full.last)
    assert len(a["lookahead"]) == sum(t.is_floating_point() for t in a["state_dict"].values())
    assert plain["lookahead"] is None
    assert any(not torch.equal(a["state_dict"][k], v) for k, v in plain["state_dict"].items())
    assert full.metrics["accuracy"] > max(0.5, plain_run.metrics["accuracy"] - 0.05)  # it learns as well

    with killed_in_epoch(2):
        fit(tmp_path, digits, name="killed", epochs=3, lookahead=True)
    Model(tmp_path / "killed").train(resume=tmp_path / "killed", progress=False)
    b = load_checkpoint(tmp_path / "killed" / "last.pt")
    assert b["epoch"] == 3 and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert all(torch.equal(x, y) for x, y in zip(a["lookahead"], b["lookahead"]))
