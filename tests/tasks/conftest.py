"""Helpers of the end-to-end task tests. `fewer_shapes`: the detector's test trains on fewer synthetic scenes than
`shapes` gives a user (600 train / 150 val), in smaller batches so the step count holds; on a 2-core AMD EPYC without
AVX-512 the whole suite took 33 min with the full sets (docs/benchmarks.md, "The test suite"). Cut the same way
(200-240 train scenes, batch 4), Mask R-CNN reached mask AP@.5 0.73 (needs 0.8) and the U-Net mIoU 0.80 (needs 0.85),
so those two still train on the full sets."""

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
