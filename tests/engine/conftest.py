"""Fixtures of the engine tests: the digits data set, and a run killed mid-way."""

import contextlib

import pytest

from foveal.data import load_data
from foveal.engine.trainer import Trainer


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


@pytest.fixture
def killed_in_epoch(monkeypatch):
    """`with killed_in_epoch(2): <train>`: the run inside stops with KeyboardInterrupt as epoch 2 starts, after
    epoch 1's checkpoint, as a kill would leave it (and the block fails if it does not)."""

    @contextlib.contextmanager
    def kill(epoch: int):
        real_epoch = Trainer._train_epoch

        def crash(self, e):
            if e == epoch:
                raise KeyboardInterrupt
            return real_epoch(self, e)

        monkeypatch.setattr(Trainer, "_train_epoch", crash)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(Trainer, "_train_epoch", real_epoch)

    return kill
