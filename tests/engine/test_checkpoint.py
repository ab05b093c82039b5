import pickle

import pytest
import torch

from foveal.engine.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from foveal.errors import FovealError


def test_round_trip_with_weights_only(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", {"state_dict": {"w": torch.arange(3.0)}, "epoch": 2, "history": [{"x": 1.0}]})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "foveal-checkpoint" and raw["epoch"] == 2
    assert torch.equal(load_checkpoint(path)["state_dict"]["w"], torch.arange(3.0))
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file is renamed away"


def test_a_failed_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 1})

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(OSError):
        save_checkpoint(path, {"epoch": 2})
    assert load_checkpoint(path)["epoch"] == 1
    assert not list(tmp_path.glob(".*.tmp"))


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"format": "foveal-checkpoint", "payload": Evil()}, f)
    with pytest.raises(FovealError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_not_a_foveal_checkpoint_and_truncated_and_missing(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(FovealError, match="not a foveal checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    good = save_checkpoint(tmp_path / "good.pt", {"epoch": 1})
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[:40])
    with pytest.raises(FovealError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(FovealError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(FovealError, match="no checkpoint"):
        resolve_checkpoint(tmp_path / "x" if (tmp_path / "x").mkdir() is None else None)


def test_the_refusal_of_code_does_not_advise_weights_only_false(tmp_path):
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"format": "foveal-checkpoint", "payload": Evil()}, f)
    with pytest.raises(FovealError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and "holds Python objects" in message
    assert "weights_only" not in message.replace("weights only", "") and "False" not in message


def test_replace_card_rewrites_only_the_card(tmp_path):
    from foveal.engine.checkpoint import replace_card
    from foveal.models.card import ModelCard

    first = ModelCard("classify", "linear", ("a", "b"), 1, (4, 4), (0.0,), (1.0,))
    path = save_checkpoint(tmp_path / "best.pt", {"card": first.to_dict(), "state_dict": {"w": torch.arange(3.0)},
                                                  "epoch": 4})
    replace_card(path, ModelCard.from_dict({**first.to_dict(), "temperature": 1.5}))
    ckpt = load_checkpoint(path)
    assert ckpt["card"]["temperature"] == 1.5 and ckpt["epoch"] == 4
    assert torch.equal(ckpt["state_dict"]["w"], torch.arange(3.0))
    assert not list(tmp_path.glob(".*.tmp"))
