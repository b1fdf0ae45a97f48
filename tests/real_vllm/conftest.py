"""Session fixtures of the real-engine suite: one real vLLM on a tiny model, the emulator it is
compared with, and a gateway (from the project's `.venv`) in front of the real engine with an
emulated managed provider to spill and fall back to.

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
    MAX_MODEL_LEN, MODE_VAR, SERVED_MODEL, URL_VAR, VllmServer, build_tiny_model, engine_mode, missing_engine_reason,
    start_vllm,
)

ADMIN_KEY = "admin-real-vllm-secret"
MANAGED_KEY = "sk-managed-real-vllm-secret"
SCRAPE_INTERVAL_S = "0.25"  # 2 s in production; faster here so saturation is seen quickly
HEALTH_INTERVAL_S = "3600"  # probed once at start: a killed engine is then found by the request, not the probe


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    killers = [item for item in items if item.get_closest_marker("kills_engine")]
    if killers:
        items[:] = [item for item in items if item not in killers] + killers


@pytest.fixture(scope="session")
def vllm_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    """One vLLM OpenAI server on the tiny model for the whole session."""
    mode = engine_mode()
    if mode == "off":
        pytest.skip(f"{MODE_VAR}=off")
    if os.environ.get(URL_VAR):
        yield VllmServer(os.environ[URL_VAR].rstrip("/"), None, None)
        return
    reason = missing_engine_reason()
    if reason is not None:
        if mode == "required":
            pytest.fail(f"{MODE_VAR}=required, but {reason}")
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("real-vllm")
    model_dir = build_tiny_model(directory / "tiny-llama")
    server = start_vllm(model_dir, directory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def contract_emulator(vllm_engine: VllmServer, session_servers: ServerLauncher) -> Any:
    """The emulator's vllm profile, configured like the real engine (served name, context window)."""
    return session_servers.emulator("vllm", "--model", SERVED_MODEL, "--max-model-len", str(MAX_MODEL_LEN),
                                    "--seed", "5", name="contract-emulator")


def real_engine_policy(engine_v1: str, managed_v1: str) -> str:
    """`local` is the real vLLM (spilled from once one request waits in its queue); `managed` an
    emulated Novita. `only-local` pins the engine; `thinker` asks for thinking."""
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
routes:
  - {{name: only-local, when: {{model: only-local}}, use: [local]}}
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

    def admin(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.gateway.url}{path}", params=params, headers={"authorization": f"Bearer {ADMIN_KEY}"},
                             timeout=10)
        response.raise_for_status()
        return response.json()

    def ledger_records(self, request_id: str, attempts: int = 1) -> list[dict[str, Any]]:
        """The ledger's records of one request, once `attempts` of them are written."""
        def written() -> list[dict[str, Any]]:
            records = [r for r in self.admin("/admin/usage", limit=10_000)["records"] if r["request_id"] == request_id]
            return records if len(records) >= attempts else []

        return sorted(wait_for(written, f"{attempts} ledger record(s) of {request_id}"), key=lambda r: r["attempt"])

    def managed_requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.managed.url}/_emulator/requests", timeout=10).json()["requests"]


@pytest.fixture(scope="session")
def real_stack(vllm_engine: VllmServer, session_servers: ServerLauncher) -> RealStack:
    managed = session_servers.emulator("novita", "--seed", "11", name="managed")
    env = {"SWITCHYARD_ADMIN_KEY": ADMIN_KEY, "SWITCHYARD_SCRAPE_INTERVAL_S": SCRAPE_INTERVAL_S,
           "SWITCHYARD_HEALTH_INTERVAL_S": HEALTH_INTERVAL_S}
    gateway = session_servers.gateway(real_engine_policy(vllm_engine.v1, managed.v1), env=env)
    return RealStack(gateway, managed, vllm_engine)
