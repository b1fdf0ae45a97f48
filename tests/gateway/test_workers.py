"""`gateway serve --workers N`: N processes on one port sharing Redis state, or one clear line why not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.settings import GatewaySettings
from gateway.workers import _settings_env
from tests.conftest import ROOT, free_port, wait_for, wait_until_ready
from tests.gateway.accounting_fixtures import delete_prefixed_keys

POLICY = """\
version: 1
backends:
  local: {{type: vllm, base_url: "{url}", model: m, family: deepseek-v3.2}}
models: {{auto: {{}}}}
routes: [{{name: default, use: [local]}}]
"""
HELLO = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "serve", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_more_than_one_worker_without_redis_is_refused_in_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.format(url="http://127.0.0.1:9/v1"))
    result = _serve("--config", str(policy), "--port", str(free_port()), "--workers", "2",
                    env={"SWITCHYARD_REDIS_URL": "", "REDIS_URL": ""})
    assert result.returncode == 2
    assert result.stderr.strip() == "gateway: error: --workers 2 needs shared state: give --redis-url URL (or set SWITCHYARD_REDIS_URL)"


def test_zero_workers_is_a_usage_error() -> None:
    result = _serve("--config", "policies/default.yaml", "--workers", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "gateway: error: --workers must be at least 1, got 0"


def test_a_bad_policy_is_reported_once_not_once_per_worker(tmp_path: Path, redis_url: str) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\nbackends:\n  a: {type: vllm, model: m, colour: blue}\nmodels: {auto: {}}\nroutes: [{name: r, use: [a]}]\n")
    result = _serve("--config", str(policy), "--workers", "2", "--redis-url", redis_url)
    assert result.returncode == 2
    assert result.stderr.count("colour") == 1 and f"{policy}:3:" in result.stderr


def test_every_setting_reaches_the_workers_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = GatewaySettings(port=9100, admin_key="sk-admin", redis_url="redis://r:1/2", max_body_bytes=4096)
    for name, value in _settings_env(settings).items():
        monkeypatch.setenv(name, value)
    again = GatewaySettings()
    assert again.model_dump() == settings.model_dump()
    assert again.admin_key.get_secret_value() == "sk-admin"


@pytest.fixture(scope="module")
def two_workers(servers, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    upstream = servers.emulator("vllm")
    directory = tmp_path_factory.mktemp("workers")
    policy = directory / "policy.yaml"
    policy.write_text(POLICY.format(url=upstream.v1))
    prefix = f"switchyard-test-workers-{uuid.uuid4().hex[:8]}:"
    port = free_port()
    log_path = directory / "gateway.log"
    env = {**os.environ, "SWITCHYARD_REDIS_PREFIX": prefix, "SWITCHYARD_LEDGER_PATH": str(directory / "ledger.sqlite3"),
           "SWITCHYARD_KEYS_FILE": str(directory / "keys.json"), "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--config", str(policy), "--port", str(port), "--workers", "2",
             "--redis-url", redis_url, "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", process, log_path)
        wait_for(lambda: "all 2 workers serving" in log_path.read_text(), "both workers to listen")
        yield process, port, log_path
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
        delete_prefixed_keys(redis_url, prefix)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_workers_serve_one_port_from_two_processes(two_workers) -> None:
    process, port, _ = two_workers
    assert len(_children(process.pid)) == 2
    for _ in range(20):  # a new connection each time: the kernel spreads them over both workers
        response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=HELLO, timeout=10)
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"]


def test_sigterm_stops_every_worker_and_exits_zero(two_workers) -> None:
    process, _, log_path = two_workers
    workers = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert "Traceback" not in log_path.read_text()
