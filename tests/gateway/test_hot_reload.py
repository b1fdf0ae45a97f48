"""Hot reload of the policy file: a valid change serves new requests without dropping requests in
flight; an invalid one is rejected, the old policy keeps serving, and the error is reported."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.live.reload import PolicyWatcher
from gateway.runtime import GatewayRuntime
from policies.loader import load_policy
from tests.conftest import wait_for

POLICY = """version: 1
backends:
  first: {{type: vllm, base_url: "{first}", model: {first_model}, family: deepseek-v3.2}}
  second: {{type: novita, base_url: "{second}", api_key: sk-reload-secret, model: deepseek/deepseek-v3.2, family: deepseek-v3.2}}
models: {{auto: {{}}}}
routes:
  - {{name: {route}, use: [{use}]}}
"""
BROKEN = POLICY.replace("routes:", "routes:\n  - {{name: broken, use: [nowhere]}}")


def _policy(use: str, route: str = "main", first: str = "http://127.0.0.1:9/v1", second: str = "http://127.0.0.1:9/v1",
            template: str = POLICY, first_model: str = "first-model") -> str:
    return template.format(use=use, route=route, first=first, second=second, first_model=first_model)


def _watched(tmp_path: Path) -> tuple[GatewayRuntime, PolicyWatcher, Path]:
    path = tmp_path / "policy.yaml"
    path.write_text(_policy("first"))
    runtime = GatewayRuntime(load_policy(path), source=str(path), policy_path=path)
    return runtime, PolicyWatcher(runtime, path), path


async def test_an_unchanged_file_is_not_reloaded(tmp_path):
    runtime, watcher, path = _watched(tmp_path)
    path.write_text(path.read_text())  # touched, same content
    assert await watcher.check() is False
    assert watcher.reloads == 0 and watcher.last_error is None


async def test_a_valid_change_is_applied_and_keeps_unchanged_backends(tmp_path):
    runtime, watcher, path = _watched(tmp_path)
    kept = runtime.backends["first"]
    path.write_text(_policy("second, first", route="swapped"))
    assert await watcher.check() is True
    assert [route.name for route in runtime.policy.routes] == ["swapped"]
    assert runtime.backends["first"].backend is kept.backend  # same spec: same adapter and connection pool
    assert watcher.reloads == 1


async def test_an_invalid_change_is_rejected_with_file_line_and_column_and_the_old_policy_stays(tmp_path, caplog):
    runtime, watcher, path = _watched(tmp_path)
    before = runtime.policy
    path.write_text(_policy("first", template=BROKEN))
    assert await watcher.check() is False
    assert runtime.policy is before
    assert watcher.last_error is not None
    assert watcher.last_error.message.startswith(f"{path}:7:26: route 'broken': unknown backend 'nowhere'")
    assert f"{path}:7:26:" in caplog.text
    path.write_text(_policy("second"))  # fixed: applied, error cleared
    assert await watcher.check() is True
    assert watcher.last_error is None and runtime.policy.routes[0].use == ["second"]


async def test_a_deleted_file_is_reported_and_the_policy_keeps_serving(tmp_path):
    runtime, watcher, path = _watched(tmp_path)
    before = runtime.policy
    path.unlink()
    assert await watcher.check() is False
    assert runtime.policy is before
    assert watcher.last_error is not None and "cannot read the policy file" in watcher.last_error.message
    path.write_text(_policy("first"))
    assert await watcher.check() is True and watcher.last_error is None


@pytest.fixture(scope="module")
def stack(servers):
    first = servers.emulator("vllm", "--ttft-ms", "0", "--tpot-ms", "20", name="first")
    second = servers.emulator("novita", name="second")
    gateway = servers.gateway(_policy("first", first=first.v1, second=second.v1), env={"SWITCHYARD_POLICY_POLL_S": "0.1"})
    policy_path = Path(httpx.get(f"{gateway.url}/admin/status").json()["policy"]["source"])
    return gateway, policy_path, {"first": first.v1, "second": second.v1}


def _backend(gateway) -> str:
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(f"{gateway.v1}/chat/completions", json=body, timeout=10).headers["x-switchyard-backend"]


def test_gateway_applies_a_valid_edit_to_new_requests_and_finishes_requests_in_flight(stack):
    gateway, path, urls = stack
    assert _backend(gateway) == "first"
    body = {"model": "auto", "messages": [{"role": "user", "content": "Tell me a story."}], "max_tokens": 60, "stream": True}
    with httpx.stream("POST", f"{gateway.v1}/chat/completions", json=body, timeout=30) as in_flight:
        assert in_flight.headers["x-switchyard-backend"] == "first"
        # the edit also changes `first`, so the stream's adapter is retired while it is in use
        path.write_text(_policy("second", route="after-edit", first_model="first-model-v2", **urls))
        wait_for(lambda: _backend(gateway) == "second", "the edited policy to serve new requests")
        text = in_flight.read().decode()
    assert text.rstrip().endswith("data: [DONE]")  # the request that was in flight completed
    status = httpx.get(f"{gateway.url}/admin/status").json()["policy"]
    assert status["reloads"] >= 1 and status["last_reload_error"] is None


def test_gateway_rejects_an_invalid_edit_keeps_serving_and_reports_the_error(stack):
    gateway, path, urls = stack
    path.write_text(_policy("second", **urls))
    wait_for(lambda: _backend(gateway) == "second", "the valid policy to be in force")
    path.write_text(_policy("second", template=BROKEN, **urls))
    error = wait_for(lambda: httpx.get(f"{gateway.url}/admin/status").json()["policy"]["last_reload_error"], "the reload error")
    assert error["message"].startswith(f"{path}:7:26: route 'broken': unknown backend 'nowhere'")
    assert _backend(gateway) == "second"  # the old policy still serves
    assert f"{path}:7:26:" in gateway.log()
    assert "sk-reload-secret" not in httpx.get(f"{gateway.url}/admin/status").text
    path.write_text(_policy("first", **urls))
    wait_for(lambda: _backend(gateway) == "first", "the repaired policy to serve")
    assert httpx.get(f"{gateway.url}/admin/status").json()["policy"]["last_reload_error"] is None
