"""A run killed at any moment resumes to the same run: a kill at every file write of a short run (simulated at the
fsync before each rename, leaving the unfinished temporary file a real kill leaves), then --resume, ends with the
best weights, last weights, metrics.json and results.csv of the run that was never interrupted. And one process at a
time trains in a run folder; a run of another task is not resumed by this one."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path

import pytest
import torch

import foveal
from foveal.engine.checkpoint import load_checkpoint
from foveal.engine.runlock import LOCK_NAME, run_lock
from foveal.errors import FovealError

# linear on digits with plain SGD at a constant 0.5 improves in epochs 1-3 and not in 4: kills fall before, between
# and after best.pt's write (the whole recipe is given, so that the task's defaults cannot change the pattern)
SETTINGS = dict(data="digits", epochs=4, seed=0, deterministic=True, optimizer="sgd", lr=0.5, momentum=0.0,
                weight_decay=0.0, schedule="constant", warmup_epochs=0.0, label_smoothing=0.0, augment=False,
                progress=False)
TIMES = ("train_time_s", "train_images_per_s")


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the training."""


@contextlib.contextmanager
def writes(kill_at: int | None = None):
    """Count the fsyncs of atomic writes (one per file written); at the `kill_at`-th, leave a copy of the temporary
    file being written (what a kill leaves) and stop the run."""
    real_fsync, count = os.fsync, [0]

    def fsync(fd: int) -> None:
        count[0] += 1
        if count[0] == kill_at:
            tmp = os.readlink(f"/proc/self/fd/{fd}")
            os.link(tmp, tmp.replace(".tmp", "-killed.tmp"))  # survives _atomic's clean-up, as after a real kill
            raise Killed
        real_fsync(fd)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", fsync)
        yield count


def train(project: Path, name: str) -> Path:
    m = foveal.Model("linear")
    m.train(project=str(project), name=name, **SETTINGS)
    return m.run_dir


def outcome(run_dir: Path) -> dict:
    best, last = load_checkpoint(run_dir / "best.pt"), load_checkpoint(run_dir / "last.pt")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with (run_dir / "results.csv").open() as f:
        curve = [row["val_accuracy"] for row in csv.DictReader(f)]
    return {"best": best["state_dict"], "best_epoch": best["epoch"], "last": last["state_dict"],
            "metrics": {k: v for k, v in metrics.items() if k not in TIMES}, "curve": curve}


def differences(a: dict, b: dict) -> list[str]:
    weights = [w for w in ("best", "last") if not all(torch.equal(a[w][k], b[w][k]) for k in a[w])]
    return weights + [k for k in ("best_epoch", "metrics", "curve") if a[k] != b[k]]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    project = tmp_path_factory.mktemp("crash")
    with writes() as count:
        run_dir = train(project, "full")
    return outcome(run_dir), count[0]


def test_a_kill_at_every_write_resumes_to_the_uninterrupted_run(uninterrupted, tmp_path):
    expected, n_writes = uninterrupted
    assert expected["best_epoch"] == 3 and expected["metrics"]["epochs"] == 4, "the run must improve, then not"
    assert n_writes >= 12  # config.yaml, 3 x (best.pt, last.pt, results.csv), last.pt, results.csv, metrics.json
    for k in range(1, n_writes + 1):
        with writes(kill_at=k), pytest.raises(Killed):
            train(tmp_path, f"kill{k}")
        run_dir = tmp_path / f"kill{k}"
        assert list(run_dir.glob(".*-killed.tmp")), f"kill at write {k}: the unfinished file is left"
        if not (run_dir / "last.pt").exists() and not (run_dir / "best.pt").exists():
            continue  # killed before the first checkpoint: nothing to resume, a new run starts over
        foveal.Model(run_dir).train(resume=True, progress=False)
        assert not differences(outcome(run_dir), expected), f"kill at write {k} of {n_writes}"
        assert not list(run_dir.glob(".*.tmp")), f"kill at write {k}: unfinished files are removed on resume"
        assert not (run_dir / LOCK_NAME).exists()


def test_a_finished_run_has_nothing_to_resume(uninterrupted, tmp_path):
    run_dir = train(tmp_path, "done")
    with pytest.raises(FovealError, match="nothing to resume"):
        foveal.Model(run_dir).train(resume=True, progress=False)


def test_a_second_process_in_the_run_folder_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    with writes(kill_at=6), pytest.raises(Killed):
        train(tmp_path, "run")
    run_dir = tmp_path / "run"
    with run_lock(run_dir):  # another process training there now
        with pytest.raises(FovealError, match=rf"in use by another foveal process \(pid {os.getpid()}\)"):
            foveal.Model(run_dir).train(resume=True, progress=False)
    (run_dir / LOCK_NAME).write_text("999999999\n")  # left by a process that is gone
    metrics = foveal.Model(run_dir).train(resume=True, progress=False)
    assert metrics["epochs"] == 4 and not (run_dir / LOCK_NAME).exists()


def test_a_run_of_another_task_is_not_resumed(tmp_path):
    with writes(kill_at=6), pytest.raises(Killed):
        train(tmp_path, "classifier")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "classifier").iterdir()}
    with pytest.raises(FovealError, match="cannot resume .*: it holds a classify run of linear, not a detect run of fcos"):
        foveal.Model("fcos", task="detect").train(resume=tmp_path / "classifier", progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "classifier").iterdir()} == before
