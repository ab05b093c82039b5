"""`foveal train --nproc N [--nnodes M --rdzv-endpoint HOST:PORT]`: the same command again in N processes on this
machine through torchrun's launcher (torch.distributed.run), which meets the other machines' at the endpoint; a
process that fails ends the job, told in one line that names its rank."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys

from foveal.errors import FovealError

log = logging.getLogger("foveal")

RDZV_ID = "foveal"  # the job's name at the rendezvous: the same on every machine


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """HOST:PORT, the host resolved here (one line when it cannot be)."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FovealError(f"--rdzv-endpoint should be HOST:PORT (the first machine's address and a free port), got {endpoint!r}")
    try:
        socket.getaddrinfo(host, int(port))
    except socket.gaierror as e:
        raise FovealError(f"--rdzv-endpoint {endpoint}: the host {host!r} cannot be found from this machine ({e.strerror})") from None
    return host, int(port)


def is_local(host: str) -> bool:
    """Whether `host` names this machine."""
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(host, None)}
        mine = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
    except socket.gaierror:
        return False
    return any(a.startswith("127.") or a == "::1" for a in addrs) or bool(addrs & mine)


def store_answers(host: str, port: int, timeout_s: float = 5.0) -> bool:
    """Whether a torch rendezvous store (the first machine's) listens at host:port. Asked in a child process: a
    store client facing another program waits far past its own timeout."""
    code = ("from datetime import timedelta; from torch.distributed import TCPStore; "
            f"TCPStore({host!r}, {port}, is_master=False, timeout=timedelta(seconds={timeout_s}), multi_tenant=True)")
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout_s + 10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def check_port(host: str, port: int) -> None:
    """An endpoint on this machine has its port free (this machine will host the rendezvous) or held by the job's
    rendezvous (another machine's process here hosts it); any other program there would hang the job: one line."""
    if not is_local(host):
        return
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return
        except OSError:
            pass
    if not store_answers(host, port):
        raise FovealError(f"--rdzv-endpoint {host}:{port}: port {port} on this machine is in use by another program; "
                          "choose a free port")


LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint")  # the launcher's, left out of what each process runs


def worker_argv(argv: list[str]) -> list[str]:
    """The command line each process runs: `argv` without the launch options."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in LAUNCH_OPTIONS)):
            out.append(arg)
    return out


def torchrun_args(argv: list[str], nproc: int, nnodes: int, endpoint: str | None) -> list[str]:
    """torchrun's arguments for running `foveal <argv>` in nproc processes here, one of nnodes machines."""
    if nproc < 1 or nnodes < 1:
        raise FovealError(f"--nproc and --nnodes count processes and machines: at least 1 each, got {nproc} and {nnodes}")
    args = ["--nproc-per-node", str(nproc), "--nnodes", str(nnodes), "--max-restarts", "0"]
    if endpoint is None:
        if nnodes > 1:
            raise FovealError("--nnodes needs --rdzv-endpoint HOST:PORT: where every machine meets the first one")
        args.append("--standalone")
    else:
        check_port(*parse_endpoint(endpoint))
        args += ["--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", RDZV_ID]
    return [*args, "-m", "foveal", *worker_argv(argv)]


def failure_line(failures: dict, processes: int) -> str:
    """One line for a failed job, naming the rank that failed first: a killed one before those that then lost it."""

    def cause(item):  # a signal first, then an exit code, then SIGTERM (the launcher's to the survivors)
        rank, f = item
        return (f.exitcode == -signal.SIGTERM, f.exitcode >= 0, f.timestamp, rank)

    rank, f = min(failures.items(), key=cause)
    if f.exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-f.exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-f.exitcode}"
    else:
        how = f"ended with exit code {f.exitcode} (its message is above)"
    return (f"rank {rank} (pid {f.pid}) {how}; the job of {processes} processes stopped. `foveal train --resume "
            f"<its run folder>` continues it from its last finished epoch, with as many processes or another number")


def launch(argv: list[str], nproc: int, nnodes: int = 1, endpoint: str | None = None) -> None:
    """Run `foveal <argv>` in nproc processes here under torchrun and wait for them; a failure raises one line."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import get_args_parser, run

    args = get_args_parser().parse_args(torchrun_args(argv, nproc, nnodes, endpoint))
    if "train" not in argv:
        raise FovealError("--nproc starts `foveal train` again in each process: give it on the command line, or start "
                          "the processes with torchrun")
    # each process its share of this machine's cores (torchrun's own default is 1 thread each, with a warning)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the line below says what failed
    try:
        run(args)
    except ChildFailedError as e:
        raise FovealError(failure_line(e.failures, nproc * nnodes)) from None
    except RendezvousError as e:
        raise FovealError(f"could not meet the other machines at {endpoint}: {type(e).__name__}: {e}. Is the first "
                          "machine's foveal train running, the port open, and used by nothing else?") from None
