"""`foveal train --nproc/--nnodes/--rdzv-endpoint`: what each process runs, and one line for each way a launch fails."""

from __future__ import annotations

import signal
import socket
from types import SimpleNamespace

import pytest
from foveal.cli import main
from foveal.engine.world import env_world
from foveal.engine.launch import failure_line, parse_endpoint, torchrun_args, worker_argv
from foveal.errors import FovealError


def test_each_process_runs_the_command_without_the_launch_options():
    argv = ["train", "--nproc", "2", "--data", "digits", "--nnodes=1", "--rdzv-endpoint", "h:1", "--epochs", "3"]
    assert worker_argv(argv) == ["train", "--data", "digits", "--epochs", "3"]
    args = torchrun_args(argv, 2, 1, None)
    assert args[:6] == ["--nproc-per-node", "2", "--nnodes", "1", "--max-restarts", "0"] and "--standalone" in args
    assert args[-6:] == ["-m", "foveal", "train", "--data", "digits", "--epochs", "3"][-6:]


@pytest.mark.parametrize("nproc, nnodes, endpoint, says", [
    (0, 1, None, "at least 1"),
    (1, 2, None, "--nnodes needs --rdzv-endpoint"),
    (1, 2, "head", "HOST:PORT"),
    (1, 2, "head:99999", "HOST:PORT"),
    (1, 2, "no-such-host.invalid:29500", "cannot be found"),
])
def test_a_bad_launch_is_one_line(nproc, nnodes, endpoint, says):
    with pytest.raises(FovealError, match=says) as err:
        torchrun_args(["train"], nproc, nnodes, endpoint)
    assert "\n" not in str(err.value)


def test_a_port_held_by_another_program_is_refused_in_one_line(capsys):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code = main(["train", "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code != 0
    assert f"port {port} on this machine is in use by another program" in err and len(err.strip().splitlines()) == 1


def test_the_failure_line_names_the_rank_that_was_killed_not_those_stopped_after():
    def failure(exitcode, pid):
        return SimpleNamespace(exitcode=exitcode, pid=pid, timestamp=100)

    line = failure_line({0: failure(-signal.SIGTERM, 10), 1: failure(-signal.SIGKILL, 11)}, 2)
    assert line.startswith("rank 1 (pid 11) was killed by SIGKILL") and "--resume" in line
    line = failure_line({0: failure(-signal.SIGTERM, 10), 3: failure(2, 13)}, 4)
    assert line.startswith("rank 3 (pid 13) ended with exit code 2")


def test_the_job_is_read_from_torchrun_or_slurm(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SLURM_NTASKS", "MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)
    assert not env_world().distributed
    monkeypatch.setenv("SLURM_NTASKS", "8")
    assert not env_world().distributed  # an allocation without a rendezvous address is not a job of 8
    monkeypatch.setenv("MASTER_ADDR", "head")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "4(x2)")
    assert env_world() == type(env_world())(rank=5, size=8, local_rank=1, local_size=4)
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun's, when both are there
    monkeypatch.setenv("RANK", "1")
    assert (env_world().rank, env_world().size, env_world().main) == (1, 2, False)
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(FovealError, match="RANK should be a whole number"):
        env_world()


def test_parse_endpoint():
    assert parse_endpoint("127.0.0.1:29500") == ("127.0.0.1", 29500)
