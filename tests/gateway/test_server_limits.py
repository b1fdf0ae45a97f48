"""`gateway.server_limits`: the limits' settings, and uvicorn's protocol class carrying them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.errors import CliError
from gateway.server_limits import ServerLimits, bounded_httptools_protocol, load_server_limits
from tests.conftest import ROOT


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_REQUEST_READ_TIMEOUT_S", "2.5")
    monkeypatch.setenv("SWITCHYARD_SHUTDOWN_GRACE_S", "0")
    assert load_server_limits() == ServerLimits(request_read_timeout_s=2.5, shutdown_grace_s=0.0)


def test_a_bad_limit_is_a_cli_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_SHUTDOWN_GRACE_S", "-1")
    with pytest.raises(CliError, match="SWITCHYARD_SHUTDOWN_GRACE_S"):
        load_server_limits()


def test_the_protocol_class_carries_the_limits():
    protocol = bounded_httptools_protocol(max_header_bytes=4096, request_read_timeout_s=1.5)
    assert (protocol.max_header_bytes, protocol.request_read_timeout_s) == (4096, 1.5)


def test_serve_with_a_bad_limit_prints_one_line_and_exits_2(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nbackends:\n  a: {type: vllm, base_url: 'http://127.0.0.1:9/v1', model: m, family: deepseek-v3.2}\n"
                      "models: {auto: {}}\nroutes: [{name: d, use: [a]}]\n")
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--config", str(policy), "--port", "9"], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SWITCHYARD_REQUEST_READ_TIMEOUT_S": "soon"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SWITCHYARD_REQUEST_READ_TIMEOUT_S" in done.stderr and "Traceback" not in done.stderr
