"""The end-to-end task tests train on fewer synthetic scenes than `shapes` gives a user (600 train / 150 val), in
smaller batches so the step count holds: on a 2-core AMD EPYC without AVX-512 the full sets took 22 of CI's 33 minutes
(docs/benchmarks.md, "CI on a 2-core EPYC without AVX-512")."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import pytest


@contextmanager
def fewer_shapes(module: ModuleType, name: str, **sizes: int) -> Iterator[None]:
    """Within the block every `shapes` load of `module.name` (the CLI's `val` included) makes `sizes` scenes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(module, name, functools.partial(getattr(module, name), **sizes))
        yield


@pytest.fixture(scope="session", name="fewer_shapes")
def fewer_shapes_fixture():
    return fewer_shapes
