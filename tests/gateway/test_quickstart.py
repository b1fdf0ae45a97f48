"""`make run` (`gateway serve --quickstart`): the demo without upstreams in the environment, else the
default policy on exactly the backends the environment configures."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.quickstart import quickstart_policy_text
from policies.loader import parse_policy_text
from tests.conftest import ServerLauncher, free_port

ALL = {"VLLM_BASE_URL": "http://127.0.0.1:9/v1", "NOVITA_API_KEY": "sk-n", "FIREWORKS_API_KEY": "sk-f",
       "DEEPSEEK_API_KEY": "sk-d"}  # fmt: skip


@pytest.mark.parametrize(
    ("env", "backends", "routes"),
    [
        ({}, None, None),
        ({"NOVITA_BASE_URL": "http://127.0.0.1:9/v1"}, None, None),  # a base URL alone does not make a key
        ({"DEEPSEEK_API_KEY": "sk-d"}, ["deepseek-api"], ["reasoning", "long-context", "default"]),
        ({"VLLM_BASE_URL": "http://127.0.0.1:9/v1"}, ["local-v32"], ["reasoning", "long-context", "default"]),
        ({"FIREWORKS_API_KEY": "sk-f"}, ["fireworks-terminus"], ["reasoning", "long-context", "default"]),
        (ALL, ["local-v32", "novita-v32", "fireworks-terminus", "deepseek-api"], ["reasoning", "long-context", "default"]),
    ],
    ids=["nothing", "base-url-only", "deepseek-key", "vllm-url", "fireworks-key", "everything"],
)
def test_the_quickstart_policy_keeps_the_backends_the_environment_configures(monkeypatch, env, backends, routes):
    text = quickstart_policy_text(env)
    if backends is None:
        assert text is None  # the demo is served
        return
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    policy = parse_policy_text(text, "quickstart-policy.yaml")  # a valid policy, every check passed
    assert list(policy.backends) == backends
    assert [route.name for route in policy.routes] == routes
    assert all(set(route.use) <= set(backends) for route in policy.routes)
    assert policy.fallback.on == ["connect_error", "timeout", "rate_limited", "server_error"]


def test_a_family_pinned_alias_no_kept_backend_serves_is_dropped():
    text = quickstart_policy_text({"FIREWORKS_API_KEY": "sk-f"})  # Terminus only: no V3.2 backend
    assert "deepseek-v3.2:" not in text.split("models:")[1].split("routes:")[0]


def _serve_quickstart(launcher: ServerLauncher, env: dict[str, str]) -> tuple[str, str]:
    """Start `gateway serve --quickstart` and return its URL and start-up log."""
    port = free_port()
    server = launcher._launch("quickstart", ["serve", "--quickstart", "--port", str(port)], port, "/readyz", env)
    return server.url, server.log()


def test_make_run_serves_a_configured_vllm_and_not_the_demo(servers, tmp_path):
    vllm = servers.emulator("vllm")
    url, log = _serve_quickstart(servers, {"VLLM_BASE_URL": vllm.v1, "XDG_DATA_HOME": str(tmp_path)})
    assert f"serving {tmp_path}/switchyard/quickstart-policy.yaml" in log
    answer = httpx.post(f"{url}/v1/chat/completions", timeout=10,
                        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
    assert answer.status_code == 200 and answer.headers["x-switchyard-backend"] == "local-v32"
    assert len(httpx.get(f"{vllm.url}/_emulator/requests").json()["requests"]) == 1  # the real upstream got it
    assert httpx.post(f"{url}/demo/backends/local-v32/stop").status_code == 404  # no demo controls
    assert f"console: {url}/ui/ (" in log


def test_make_run_serves_the_demo_when_the_environment_names_no_upstream(servers, tmp_path):
    cleared = {name: "" for name in (*ALL, "NOVITA_BASE_URL", "FIREWORKS_BASE_URL", "DEEPSEEK_BASE_URL")}
    url, log = _serve_quickstart(servers, {**cleared, "XDG_DATA_HOME": str(tmp_path)})
    assert "policies/demo.yaml" in log
    answer = httpx.post(f"{url}/v1/chat/completions", timeout=10,
                        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
    assert answer.status_code == 200 and answer.headers["x-switchyard-backend"] == "local-v32"
    # the console's address and an admin key made for this run (the demo has none of its own)
    admin_key = re.search(rf"console: {re.escape(url)}/ui/ \(log in with the admin key (sy-admin-\S+), made for this demo run\)",
                          log).group(1)
    assert log.count(admin_key) == 1  # printed once, nowhere else
    session = httpx.get(f"{url}/admin/console/session", headers={"authorization": f"Bearer {admin_key}"}, timeout=10)
    assert session.status_code == 200 and session.json()["demo"] is True
    assert httpx.get(f"{url}/admin/status", timeout=10).status_code == 403  # the admin endpoints now need it
