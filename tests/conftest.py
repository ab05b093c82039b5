"""Shared fixtures: the real data sets from ../shared (unpacked by its prepare script), small image trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PREPARE = REPO.parent / "shared" / "datasets" / "prepare"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder the shared real data sets are unpacked into (fashion-mnist/, mnist/, cifar10-jpg/, coco128/)."""
    if "FOVEAL_TEST_DATA" in os.environ and (Path(os.environ["FOVEAL_TEST_DATA"]) / "fashion-mnist").is_dir():
        return Path(os.environ["FOVEAL_TEST_DATA"])
    if not PREPARE.exists():
        pytest.fail(f"the shared data sets are missing: expected {PREPARE} (run from a checkout beside shared/)")
    out = subprocess.run(["bash", str(PREPARE)], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return Path(out)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep caches and downloads of the tests out of the user's home."""
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("FOVEAL_DATA", str(tmp_path_factory.getbasetemp() / "datasets"))
