"""`gateway serve` start-up mistakes are one readable line and exit code 2."""

from __future__ import annotations

import subprocess
import sys

from gateway.settings import GatewaySettings


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "serve", *args], capture_output=True, text=True, timeout=60)


def test_nothing_to_serve():
    result = _serve("--port", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == "gateway: error: nothing to serve: give --config FILE (e.g. policies/default.yaml) or --demo"


def test_bad_policy_names_file_line_and_column(tmp_path):
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\nbackends:\n  a: {type: vllm, model: m, colour: blue}\nmodels: {auto: {}}\nroutes: [{name: r, use: [a]}]\n")
    result = _serve("--config", str(policy), "--port", "1")
    assert result.returncode == 2
    assert f"{policy}:3:" in result.stderr and "colour" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_and_config_exclude_each_other():
    assert _serve("--demo", "--config", "x.yaml").returncode == 2


def test_settings_come_from_prefixed_env_and_redis_url(monkeypatch):
    monkeypatch.setenv("SWITCHYARD_PORT", "9001")
    monkeypatch.setenv("SWITCHYARD_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    settings = GatewaySettings()
    assert (settings.port, settings.max_body_bytes, settings.redis_url) == (9001, 2048, "redis://127.0.0.1:6379/3")
    assert GatewaySettings(port=9002).port == 9002  # flags win over the environment


def test_invalid_setting_is_one_line():
    result = _serve("--demo", "--port", "99999")
    assert result.returncode == 2
    assert result.stderr.startswith("gateway: error: setting port:")
