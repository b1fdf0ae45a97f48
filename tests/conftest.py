"""Shared fixtures: free ports, emulator and gateway subprocesses with readiness polling, Redis.

Subprocesses are started once per test module (module-scoped `servers`) and stopped at its end;
readiness is polled on their health endpoint, never slept for.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 30.0  # a backstop only: readiness is polled
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None = None, log_path: Path | None = None,
                     timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `url` until it answers 200; fail with the process's log if it dies first."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.02
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"process exited with {process.returncode} before {url} was ready:\n{log}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(delay_s)
        delay_s = min(delay_s * 1.5, 0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f} s")


def wait_for(condition: Callable[[], T], what: str, timeout_s: float = READY_TIMEOUT_S) -> T:
    """Call `condition` (itself a request to a server, so no busy loop) until it returns something
    truthy, and return that; fail the test naming `what` after `timeout_s`, a backstop only."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class ServerProcess:
    """A running emulator or gateway subprocess."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class ServerLauncher:
    """Starts `gateway emulate` / `gateway serve` subprocesses and stops them all at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[ServerProcess] = []

    def _launch(self, name: str, args: list[str], port: int, health_path: str, env: dict[str, str] | None) -> ServerProcess:
        log_path = self.directory / f"{name}-{port}.log"
        own_files = {  # a gateway's ledger and key file stay in the test's directory, never the user's
            "SWITCHYARD_LEDGER_PATH": str(self.directory / f"ledger-{port}.sqlite3"),
            "SWITCHYARD_KEYS_FILE": str(self.directory / f"keys-{port}.json"),
        }
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **own_files, **(env or {})}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", *args], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
            )
        server = ServerProcess(name, port, process, log_path)
        self.started.append(server)
        wait_until_ready(f"{server.url}{health_path}", process, log_path)
        return server

    def emulator(self, profile: str, *flags: str, name: str | None = None) -> ServerProcess:
        """`gateway emulate --profile PROFILE` with zero latency unless flags say otherwise."""
        port = free_port()
        args = ["emulate", "--port", str(port), "--profile", profile]
        if not any(f.startswith(("--ttft-ms", "--planner")) for f in flags):
            args += ["--ttft-ms", "0", "--tpot-ms", "0"]
        return self._launch(name or f"emulator-{profile}", [*args, *flags], port, "/health", None)

    def gateway(self, policy_yaml: str, env: dict[str, str] | None = None) -> ServerProcess:
        """`gateway serve --config` on a policy written from `policy_yaml`."""
        port = free_port()
        policy_path = self.directory / f"policy-{port}.yaml"
        policy_path.write_text(policy_yaml)
        args = ["serve", "--config", str(policy_path), "--port", str(port), "--log-level", "warning"]
        return self._launch("gateway", args, port, "/readyz", env)

    def demo_gateway(self, env: dict[str, str] | None = None) -> ServerProcess:
        """`gateway serve --demo` (the emulated backends start inside it on free ports)."""
        port = free_port()
        return self._launch("demo", ["serve", "--demo", "--port", str(port), "--log-level", "warning"], port, "/readyz", env)

    def stop_all(self) -> None:
        for server in reversed(self.started):
            server.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerLauncher]:
    """A launcher whose processes live for the test module."""
    launcher = ServerLauncher(tmp_path_factory.mktemp("servers"))
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="session")
def session_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerLauncher]:
    """A launcher whose processes live for the whole test session (shared end-to-end stacks)."""
    launcher = ServerLauncher(tmp_path_factory.mktemp("session-servers"))
    yield launcher
    launcher.stop_all()


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def _no_redis(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true needs Redis: {reason}")
    pytest.skip(f"no Redis: {reason}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis to test against: REDIS_URL, else one on 127.0.0.1:6379, else redis-server from PATH.

    Without any, the test is skipped with the reason, except under CI=true, where it fails.
    """
    configured = os.environ.get("REDIS_URL")
    if configured:
        if not _redis_answers(configured):
            _no_redis(f"REDIS_URL={configured} does not answer PING")
        yield configured
        return
    default = "redis://127.0.0.1:6379/0"
    if _redis_answers(default):
        yield default
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _no_redis("nothing answers on 127.0.0.1:6379 and redis-server is not on PATH")
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _redis_answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                _no_redis(f"redis-server on port {port} did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
