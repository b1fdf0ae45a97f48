"""Benchmark subprocesses: start each with its own log, poll readiness over loopback, stop them all.

Each child runs in its own session (so Ctrl-C reaches only the benchmark, which then stops the
children in order) and asks the kernel for SIGTERM when the benchmark dies (PR_SET_PDEATHSIG),
so even a SIGKILLed benchmark leaves nothing behind. `ProcessGroup` stops every child on exit
from its `with` block, on exceptions, Ctrl-C and SIGTERM alike.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["LOOPBACK", "ManagedProcess", "ProcessGroup", "ProcessStartError", "free_port", "http_get_status", "stop_on_sigterm"]

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 10.0
_PR_SET_PDEATHSIG = 1


class ProcessStartError(RuntimeError):
    """A benchmark process exited, or did not answer its readiness URL in time."""


def free_port() -> int:
    """A TCP port on the loopback address that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def http_get_status(port: int, path: str, timeout_s: float = 2.0) -> int | None:
    """Status of GET http://127.0.0.1:PORT/PATH, or None when nothing answers."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _die_with_parent() -> None:
    """Runs in the child before exec: its own session, and SIGTERM when the benchmark dies."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not glibc Linux: the ProcessGroup's own clean-up still applies


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `with ProcessGroup(...)` blocks clean up (Ctrl-C already does)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@dataclass
class ManagedProcess:
    """One running child and where its output goes."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the child's whole process group, then SIGKILL after a grace period."""
        if self.process.poll() is not None:
            return
        for signum, wait_s in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue


class ProcessGroup:
    """Starts children that log into `directory`, and stops all of them when the block exits."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ManagedProcess] = []

    def start(
        self, name: str, argv: Sequence[str], *, port: int, ready_path: str, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, ready_timeout_s: float = 60.0,
    ) -> ManagedProcess:
        """Start `argv` and poll GET http://127.0.0.1:PORT/READY_PATH until it answers 200."""
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(argv), cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )
        child = ManagedProcess(name, port, process, log_path)
        self.started.append(child)
        self._wait_ready(child, ready_path, ready_timeout_s)
        return child

    @staticmethod
    def _wait_ready(child: ManagedProcess, ready_path: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay_s = 0.02
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise ProcessStartError(
                    f"{child.name} exited with status {child.process.returncode} before it was ready; "
                    f"its log ({child.log_path}) ends with:\n{child.log_tail()}"
                )
            if http_get_status(child.port, ready_path) == 200:
                return
            time.sleep(delay_s)
            delay_s = min(delay_s * 1.5, 0.25)
        raise ProcessStartError(
            f"{child.name} did not answer 200 on :{child.port}{ready_path} within {timeout_s:.0f} s; log: {child.log_path}"
        )

    def stop_all(self) -> None:
        """Stop children in reverse start order (proxies before their upstreams)."""
        for child in reversed(self.started):
            child.stop()
        self.started.clear()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop_all()
