"""Session fixtures of the real-engine suite: real vLLM engines on a tiny model (one plain, one with a
tool-call parser for the agent-protocol comparisons; started side by side), the emulator the plain
one is compared with, and a gateway (from the project's `.venv`) in front of both with an emulated
managed provider to spill and fall back to.

Without the engine's venv the tests that need it skip with the reason, or fail when
`SWITCHYARD_REAL_VLLM=required` (see `engine.py`). Tests marked `kills_engine` run last: they
kill the one shared engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ServerLauncher, wait_for
from tests.real_vllm.engine import (
    MAX_MODEL_LEN, MODE_VAR, SERVED_MODEL, TOOL_ENGINE_ARGS, TOOL_URL_VAR, URL_VAR, VllmServer, build_tiny_model, engine_mode,
    launch_vllm, missing_engine_reason,
)

ADMIN_KEY = "admin-real-vllm-secret"
MANAGED_KEY = "sk-managed-real-vllm-secret"
SCRAPE_INTERVAL_S = "0.25"  # 2 s in production; faster here so saturation is seen quickly
HEALTH_INTERVAL_S = "3600"  # probed once at start: a killed engine is then found by the request, not the probe


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    killers = [item for item in items if item.get_closest_marker("kills_engine")]
    if killers:
        items[:] = [item for item in items if item not in killers] + killers


@dataclass
class Engines:
    plain: VllmServer  # the emulator contract, the chat tests, spill-over and the kill
    tools: VllmServer  # with a tool-call parser (engine.TOOL_ENGINE_ARGS): the Messages / Responses comparisons


@pytest.fixture(scope="session")
def vllm_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """Both engines for the whole session, launched together so that their starts overlap."""
    mode = engine_mode()
    if mode == "off":
        pytest.skip(f"{MODE_VAR}=off")
    urls = {var: os.environ.get(var, "").rstrip("/") for var in (URL_VAR, TOOL_URL_VAR)}
    model_dir = directory = None
    if not all(urls.values()):
        reason = missing_engine_reason()
        if reason is not None:
            if mode == "required":
                pytest.fail(f"{MODE_VAR}=required, but {reason}")
            pytest.skip(reason)
        directory = tmp_path_factory.mktemp("real-vllm")
        model_dir = build_tiny_model(directory / "tiny-llama")

    def engine(var: str, *args: str) -> VllmServer:
        return VllmServer(urls[var], None, None) if urls[var] else launch_vllm(model_dir, directory, *args)

    engines = Engines(engine(URL_VAR), engine(TOOL_URL_VAR, *TOOL_ENGINE_ARGS))
    try:
        engines.plain.wait_ready()
        engines.tools.wait_ready()
        yield engines
    finally:
        engines.plain.stop()
        engines.tools.stop()


@pytest.fixture(scope="session")
def vllm_engine(vllm_engines: Engines) -> VllmServer:
    """The plain vLLM OpenAI server on the tiny model (no tool-call parser)."""
    return vllm_engines.plain


@pytest.fixture(scope="session")
def contract_emulator(vllm_engine: VllmServer, session_servers: ServerLauncher) -> Any:
    """The emulator's vllm profile, configured like the real engine (served name, context window)."""
    return session_servers.emulator("vllm", "--model", SERVED_MODEL, "--max-model-len", str(MAX_MODEL_LEN),
                                    "--seed", "5", name="contract-emulator")


def real_engine_policy(engine_v1: str, managed_v1: str, tool_engine_v1: str) -> str:
    """`local` is the real vLLM (spilled from once one request waits in its queue); `managed` an
    emulated Novita; `tools` the engine with a tool-call parser, without limits (requests sent to
    vLLM directly beside it must not make the gateway refuse one). `only-local` pins the engine,
    `tool-engine` the tool engine; `thinker` asks for thinking."""
    return f"""
version: 1
backends:
  local:
    type: vllm
    base_url: {engine_v1}
    model: {SERVED_MODEL}
    family: deepseek-v3.2
    thinking: true
    cost: {{gpu_hourly_usd: 3.6, gpus: 1}}
    limits: {{max_waiting: 1}}
    timeouts: {{connect_s: 2, first_token_s: 300, total_s: 600}}
  tools:
    type: vllm
    base_url: {tool_engine_v1}
    model: {SERVED_MODEL}
    family: deepseek-v3.2
    thinking: true
    cost: {{gpu_hourly_usd: 3.6, gpus: 1}}
    timeouts: {{connect_s: 2, first_token_s: 300, total_s: 600}}
  managed:
    type: novita
    base_url: {managed_v1}
    api_key: {MANAGED_KEY}
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
    thinking: true
    price: {{input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.40}}
    timeouts: {{connect_s: 2, first_token_s: 30, total_s: 60}}
models:
  auto: {{}}
  thinker: {{thinking: true}}
  only-local: {{}}
  tool-engine: {{}}
routes:
  - {{name: only-local, when: {{model: only-local}}, use: [local]}}
  - {{name: tool-engine, when: {{model: tool-engine}}, use: [tools]}}
  - {{name: default, use: [local, managed], prefer: order}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 2
  circuit_breaker: {{enabled: false}}
"""


@dataclass
class RealStack:
    """The gateway in front of the real engine and the emulated managed provider."""

    gateway: Any  # ServerProcess (tests/conftest.py)
    managed: Any
    engine: VllmServer
    tool_engine: VllmServer

    def admin(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.gateway.url}{path}", params=params, headers={"authorization": f"Bearer {ADMIN_KEY}"},
                             timeout=10)
        response.raise_for_status()
        return response.json()

    def ledger_records(self, request_id: str, attempts: int = 1) -> list[dict[str, Any]]:
        """The ledger's records of one request, once `attempts` of them are written."""
        def written() -> list[dict[str, Any]]:
            page = self.admin("/admin/usage", limit=10_000)["data"]  # newest first; the suite writes a few hundred at most
            records = [r for r in page if r["request_id"] == request_id]
            return records if len(records) >= attempts else []

        return sorted(wait_for(written, f"{attempts} ledger record(s) of {request_id}"), key=lambda r: r["attempt"])

    def settle(self) -> None:
        """Wait until the gateway's scrape sees no request waiting in the plain engine's queue: one sent to
        vLLM directly can be caught there for a moment, and `local`'s `max_waiting: 1` would then refuse
        the next request pinned to it (`only-local` has nowhere to spill)."""
        wait_for(lambda: self.admin("/admin/status")["backends"]["local"]["waiting"] == 0, "the engine's queue empty")

    def managed_requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.managed.url}/_emulator/requests", timeout=10).json()["requests"]


@pytest.fixture(scope="session")
def real_stack(vllm_engines: Engines, session_servers: ServerLauncher) -> RealStack:
    managed = session_servers.emulator("novita", "--seed", "11", name="managed")
    env = {"SWITCHYARD_ADMIN_KEY": ADMIN_KEY, "SWITCHYARD_SCRAPE_INTERVAL_S": SCRAPE_INTERVAL_S,
           "SWITCHYARD_HEALTH_INTERVAL_S": HEALTH_INTERVAL_S}
    policy = real_engine_policy(vllm_engines.plain.v1, managed.v1, vllm_engines.tools.v1)
    gateway = session_servers.gateway(policy, env=env)
    return RealStack(gateway, managed, vllm_engines.plain, vllm_engines.tools)
