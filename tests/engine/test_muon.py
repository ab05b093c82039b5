import pytest
import torch

from foveal.api import Model
from foveal.config import TrainConfig
from foveal.engine.checkpoint import load_checkpoint
from foveal.engine.muon import Muon, muon_groups, orthogonalise
from foveal.engine.optim import make_optimizer
from foveal.tasks.classify.task import ClassifyTask
from foveal.engine.trainer import Trainer
from foveal.errors import FovealError


@pytest.mark.parametrize("shape", [(64, 576), (576, 64), (8, 8)])
def test_orthogonalise_brings_every_singular_value_near_one(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    g[:, 0] *= 100  # one direction far stronger than the rest: an SGD step would follow it alone
    s = torch.linalg.svdvals(orthogonalise(g, steps=5))
    assert s.min() > 0.5 and s.max() < 1.5
    u, _, v = torch.linalg.svd(g, full_matrices=False)
    assert torch.nn.functional.cosine_similarity(orthogonalise(g, steps=5).flatten(), (u @ v).flatten(), 0) > 0.9
    g[:, 0] /= 100
    s = torch.linalg.svdvals(orthogonalise(g))  # airbench's three steps, on a better conditioned gradient
    assert s.min() > 0.1 and s.max() < 1.5


def conv_net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(), torch.nn.Linear(8 * 16, 2))


def test_muon_moves_the_filters_and_leaves_the_rest_to_sgd():
    model = conv_net()
    cfg = TrainConfig(optimizer="muon", lr=0.1, momentum=0.9, weight_decay=5e-4, muon_lr=0.05, norm_lr=64)
    opt = make_optimizer(cfg, model, [{"params": list(model.parameters())}])
    assert isinstance(opt, Muon)
    muon = [g for g in opt.param_groups if g.get("muon")]
    assert [p.shape for g in muon for p in g["params"]] == [model[0].weight.shape]
    assert muon[0]["lr"] == pytest.approx(0.05) and muon[0]["weight_decay"] == 0
    assert {g["lr"] for g in opt.param_groups if not g.get("muon")} == {0.1, 6.4}  # batch norm at 64x, as with sgd

    x, y = torch.randn(4, 3, 6, 6), torch.tensor([0, 1, 0, 1])
    filters, head = model[0].weight.detach().clone(), model[3].weight.detach().clone()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    expected_head = head - 0.1 * (model[3].weight.grad * (1 + 0.9) + 5e-4 * head * (1 + 0.9))  # SGD's Nesterov step
    opt.step()
    assert torch.allclose(model[3].weight, expected_head, atol=1e-6)
    step = model[0].weight.detach() - filters * (8**0.5 / filters.norm())  # after the rescale to norm sqrt(8)
    s = torch.linalg.svdvals(step.reshape(8, -1) / 0.05)  # an orthogonalised step, whatever the gradient's scale
    assert s.min() > 0.3 and s.max() < 1.6
    assert set(opt.state[model[0].weight]) == {"muon_buffer"} and model[0].weight.grad is not None
    with pytest.raises(FovealError, match="muon_lr"):
        TrainConfig(muon_lr=0)


def test_muon_keeps_a_groups_share_of_the_lr():
    model = conv_net()
    groups = [{"params": [model[0].weight], "lr": 0.01}, {"params": [model[3].weight]}]
    opt = Muon(muon_groups(groups, 0.05, lr=0.1), lr=0.1, momentum=0.9, nesterov=True)
    assert [(g["lr"], g.get("muon", False)) for g in opt.param_groups] == [(pytest.approx(0.005), True), (0.1, False)]


def test_a_muon_run_learns_and_resumes_exactly(tmp_path, digits, killed_in_epoch):
    def fit(name, **kw):
        cfg = TrainConfig(model="tinyvgg", data="digits", epochs=3, optimizer="muon", lr=0.05, momentum=0.9,
                          muon_lr=0.05, schedule="onecycle", deterministic=True, project=str(tmp_path), name=name, **kw)
        return Trainer(cfg, digits, ClassifyTask, progress=False).fit()

    full = fit("full")
    assert full.metrics["accuracy"] > 0.8
    with killed_in_epoch(2):
        fit("killed")
    Model(tmp_path / "killed").train(resume=tmp_path / "killed", progress=False)
    a, b = load_checkpoint(full.last), load_checkpoint(tmp_path / "killed" / "last.pt")
    assert b["epoch"] == 3 and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
