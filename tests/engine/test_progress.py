"""What training shows: the epoch lines from Python as from the command line, each once; a progress bar in a terminal
or a notebook; plain progress lines at a steady interval in a log file; each figure under its split."""

from __future__ import annotations

import builtins
import importlib.machinery
import re
import subprocess
import sys
import types

import pytest

from foveal.cli import main
from foveal.engine import progress
from foveal.engine.progress import EpochProgress, display_kind

EPOCH = re.compile(r"^epoch (\d)/(\d)  train loss \d+\.\d{4} accuracy \d\.\d{4}  val loss \d+\.\d{4} accuracy \d\.\d{4}  "
                   r"\d+\.\ds  \d+ img/s(  \*best)?$")


def python(code: str, cwd) -> subprocess.CompletedProcess:
    """`python -c code` with stderr to a file, as a script or a notebook runs (no terminal)."""
    with open(cwd / "err.txt", "w") as err:
        done = subprocess.run([sys.executable, "-c", code], cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True,
                              timeout=600)
    done.stderr = (cwd / "err.txt").read_text()
    assert done.returncode == 0, done.stderr
    return done


def test_training_from_python_writes_the_epoch_lines_to_stderr(tmp_path):
    done = python("import foveal; foveal.Model('lenet').train(data='digits', epochs=2)", tmp_path)
    lines = done.stderr.splitlines()
    epochs = [line for line in lines if EPOCH.match(line)]
    assert [EPOCH.match(line).groups()[:2] for line in epochs] == [("1", "2"), ("2", "2")], done.stderr
    assert any(line.startswith("training lenet on digits") for line in lines)
    assert any(line.startswith("done: accuracy") for line in lines)


def test_logging_a_user_configured_prints_each_line_once(tmp_path):
    """logging.basicConfig before the first run, or between two runs: foveal's lines come through the user's handler
    only, each once."""
    code = ("import logging, foveal\n"
            "foveal.Model('lenet').train(data='digits', epochs=1, name='a')\n"
            "logging.basicConfig(level=logging.INFO, format='USER %(message)s')\n"
            "foveal.Model('lenet').train(data='digits', epochs=1, name='b')\n")
    lines = python(code, tmp_path).stderr.splitlines()
    first = [line for line in lines if line.startswith("epoch 1/1  train loss")]
    second = [line for line in lines if line.startswith("USER epoch 1/1  train loss")]
    assert len(first) == 1 and len(second) == 1, lines
    assert sum("runs/b" in line for line in lines) == 2  # "training ... -> runs/b" and "done: ... results in runs/b"


def test_the_command_line_prints_each_epoch_line_once(tmp_path, capsys):
    assert main(["train", "--model", "lenet", "--data", "digits", "--epochs", "1", "--project", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if EPOCH.match(line)]) == 1, err


def test_a_log_file_gets_progress_lines_with_speed_and_time_left(tmp_path, capsys, monkeypatch):
    args = ["train", "--model", "lenet", "--data", "digits", "--epochs", "2", "--project", str(tmp_path)]
    assert main(args) == 0  # the default interval, 30 s, is longer than this run: no progress line
    assert " step " not in capsys.readouterr().err
    monkeypatch.setenv("FOVEAL_PROGRESS_INTERVAL", "0")
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    step = re.compile(r"^epoch ([12])/2  step \d+/45 \(\d+%\)  train loss \d\.\d{4} accuracy \d\.\d{4} \d+ img/s  "
                      r"epoch left \d+:\d\d:\d\d  run left \d+:\d\d:\d\d$")
    assert {step.match(line).group(1) for line in err if step.match(line)} == {"1", "2"}, err


def test_a_bad_progress_interval_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FOVEAL_PROGRESS_INTERVAL", "soon")
    assert main(["train", "--model", "lenet", "--data", "digits", "--epochs", "1", "--project", str(tmp_path)]) == 2
    assert "error: FOVEAL_PROGRESS_INTERVAL must be a number of seconds >= 0; got 'soon'" in capsys.readouterr().err


def test_time_left_in_the_epoch_and_the_run(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    monkeypatch.setenv("FOVEAL_PROGRESS_INTERVAL", "30")
    bar = EpochProgress(epoch=1, epochs=3, steps=100, eval_s=5.0)  # not a terminal here: lines
    now[0] = 10.0  # 10 of 100 steps in 10 s
    line = bar.line(10, "train loss 0.5000")
    # the epoch: 90 s more; the run: those, this epoch's evaluation, and two more epochs of 100 s + 5 s
    assert line == "epoch 1/3  step 10/100 (10%)  train loss 0.5000  epoch left 0:01:30  run left 0:05:05"
    assert not bar.due() and (now.__setitem__(0, 30.0) or bar.due()) and not bar.due()


def _notebook(monkeypatch, widgets: bool) -> None:
    class ZMQInteractiveShell:  # what rich looks for to tell a Jupyter kernel
        pass

    monkeypatch.setattr(builtins, "get_ipython", ZMQInteractiveShell, raising=False)
    if widgets:
        module = types.ModuleType("ipywidgets")
        module.__spec__ = importlib.machinery.ModuleSpec("ipywidgets", None)
        monkeypatch.setitem(sys.modules, "ipywidgets", module)
    else:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)


@pytest.mark.parametrize("widgets, kind", [(True, "bar"), (False, "lines")])
def test_a_notebook_gets_the_bar_where_rich_can_draw_it(monkeypatch, widgets, kind):
    assert display_kind() == "lines"  # stderr captured by pytest: not a terminal, not a notebook
    _notebook(monkeypatch, widgets)
    assert display_kind() == kind
