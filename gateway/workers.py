"""`gateway serve --workers N`: N gateway processes on one port, sharing their state through Redis.

The supervisor (the process `gateway serve --workers N` starts as) runs no app: it starts N
copies of `gateway serve` with every setting passed in the environment (`SWITCHYARD_*`), each
with its own replica id (`REPLICA/wI`, so the Redis state, limits and ledger stream tell the
workers apart, and a restarted worker drains its own unfinished ledger batch). Each worker binds
the port itself with SO_REUSEPORT, so the kernel spreads connections over the workers without
one accept queue for all of them to fight over. Once every worker listens, the supervisor prints
`all N workers serving`; when one exits, it stops the others and exits with that status; SIGTERM
and SIGINT are passed on to every worker (each drains and flushes its ledger as one gateway does).

Without Redis the workers would each keep their own budgets, rate limits and backend state, so
`--workers` above 1 needs `--redis-url`.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from gateway.errors import CliError
from gateway.settings import GatewaySettings

__all__ = ["WORKER_INDEX_ENV", "run_workers", "serve_worker", "worker_index"]

WORKER_INDEX_ENV = "SWITCHYARD_WORKER_INDEX"
READY_FD_ENV = "SWITCHYARD_WORKER_READY_FD"
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 30.0


def worker_index() -> int | None:
    """This process's index among `--workers`, or None when it is a gateway of its own."""
    value = os.environ.get(WORKER_INDEX_ENV)
    return int(value) if value is not None and value.isdigit() else None


def _settings_env(settings: GatewaySettings) -> dict[str, str]:
    """Every setting as the `SWITCHYARD_*` variable that gives it back."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"SWITCHYARD_{name.upper()}"] = str(value)
    return env


def run_workers(settings: GatewaySettings, workers: int) -> int:
    """Start `workers` gateway processes on `settings`' port and supervise them (see the module docstring)."""
    if not settings.redis_url:
        raise CliError(f"--workers {workers} needs shared state: give --redis-url URL (or set SWITCHYARD_REDIS_URL)")
    if settings.demo:
        raise CliError("--workers does not apply to --demo (it starts its own emulated backends); serve a --config")
    if settings.config is None:
        raise CliError("nothing to serve: give --config FILE (e.g. policies/default.yaml)")
    from policies.errors import PolicyError
    from policies.loader import load_policy

    try:
        load_policy(settings.config)  # one error line here rather than one per worker
    except PolicyError as exc:
        raise CliError(str(exc)) from None
    replica = settings.replica_id or f"{socket.gethostname()}:{settings.port}"
    ready_read, ready_write = os.pipe()
    base_env = {**os.environ, **_settings_env(settings), READY_FD_ENV: str(ready_write)}
    children: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []  # signals received
    status, requested = 1, False

    def stop(signum: int, frame: Any) -> None:
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for index in range(workers):
            env = {**base_env, WORKER_INDEX_ENV: str(index), "SWITCHYARD_REPLICA_ID": f"{replica}/w{index}"}
            children.append(subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, pass_fds=(ready_write,)))
        os.close(ready_write)
        if _wait_ready(ready_read, children, workers):
            sys.stderr.write(f"switchyard gateway: all {workers} workers serving on http://{settings.host}:{settings.port}\n")
            sys.stderr.flush()
        status = _wait_first_exit(children)
        requested = bool(stopping)
    finally:
        os.close(ready_read)
        stop(signal.SIGTERM, None)
        _reap(children)
    return 0 if requested else status


def _wait_ready(ready_read: int, children: list[subprocess.Popen[bytes]], workers: int) -> bool:
    """Until every worker said it listens (one byte each); False when one exited or time ran out first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    ready = 0
    while ready < workers and time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        readable, _, _ = select.select([ready_read], [], [], 0.2)
        if readable:
            got = os.read(ready_read, workers)
            if not got:
                return False
            ready += len(got)
    return ready >= workers


def _wait_first_exit(children: list[subprocess.Popen[bytes]]) -> int:
    while True:
        for child in children:
            status = child.poll()
            if status is not None:
                return status
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _reap(children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return sock


def serve_worker(app: Any, *, host: str, port: int, **uvicorn_options: Any) -> None:
    """Run `app` as one of the workers: uvicorn on an SO_REUSEPORT socket, telling the supervisor once it listens."""
    import uvicorn

    class _WorkerServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                _tell_supervisor()

    sock = _reuse_port_socket(host, port)
    server = _WorkerServer(uvicorn.Config(app, host=host, port=port, **uvicorn_options))
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)  # uvicorn's start-up failure status


def _tell_supervisor() -> None:
    fd = os.environ.get(READY_FD_ENV)
    if fd is None or not fd.isdigit():
        return
    try:
        os.write(int(fd), b"1")
        os.close(int(fd))
    except OSError:
        pass  # the supervisor is gone; serving goes on until it is stopped
