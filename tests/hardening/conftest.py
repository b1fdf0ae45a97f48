"""The hardening stack: a gateway at debug log level in front of a keyless self-hosted emulator
("primary") and a managed one ("secondary") whose key is a recognisable fake, with client keys and
an admin key configured; plus helpers to start a gateway of one's own (shutdown, redirects).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerLauncher, ServerProcess, free_port, wait_for
from tests.e2e.conftest import Stack

PROVIDER_KEY = "sk-FAKE-PROVIDER-123456"  # the managed backend's key, via ${HARDENING_PROVIDER_KEY}
CLIENT_KEY = "sk-FAKE-CLIENT-7890abcdef"  # a client key the policy knows by its SHA-256 only
ADMIN_KEY = "sk-FAKE-ADMIN-55aa55aa55"  # SWITCHYARD_ADMIN_KEY
SECRETS = (PROVIDER_KEY, CLIENT_KEY, ADMIN_KEY)
READ_TIMEOUT_S = 2  # SWITCHYARD_REQUEST_READ_TIMEOUT_S of the shared stack
MAX_MESSAGES = 50  # SWITCHYARD_MAX_MESSAGES of the shared stack
FAILURES = 3  # consecutive failures that open a circuit
HELLO = [{"role": "user", "content": "Tell me a story."}]


def hardening_policy(primary: str, secondary: str, *, circuit: str) -> str:
    """`auto`: primary then secondary; `via-secondary`: the managed backend alone."""
    client_sha256 = hashlib.sha256(CLIENT_KEY.encode()).hexdigest()
    return f"""
version: 1
backends:
  primary:
    type: vllm
    base_url: {primary}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    timeouts: {{connect_s: 1, first_token_s: 1, total_s: 3}}
  secondary:
    type: novita
    base_url: {secondary}
    api_key: ${{HARDENING_PROVIDER_KEY}}
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
    price: {{input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.40}}
    timeouts: {{connect_s: 1, first_token_s: 2, total_s: 10}}
models:
  auto: {{}}
  via-secondary: {{}}
routes:
  - {{name: managed-only, when: {{model: via-secondary}}, use: [secondary]}}
  - {{name: default, use: [primary, secondary], prefer: order}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 2
  circuit_breaker: {circuit}
keys:
  - {{name: hardening-client, sha256: "{client_sha256}", tags: [test]}}
"""


def start_gateway(launcher: ServerLauncher, policy_yaml: str, env: dict[str, str], *, log_level: str = "debug") -> ServerProcess:
    """`gateway serve --config` at `log_level` (the shared launcher's gateways log at warning)."""
    port = free_port()
    policy_path = launcher.directory / f"policy-{port}.yaml"
    policy_path.write_text(policy_yaml)
    args = ["serve", "--config", str(policy_path), "--port", str(port), "--log-level", log_level]
    return launcher._launch(f"gateway-{log_level}", args, port, "/readyz", env)


def gateway_env(directory: Path, **extra: str) -> dict[str, str]:
    """The secrets and limits every hardening gateway runs with; its ledger in `directory`."""
    return {
        "HARDENING_PROVIDER_KEY": PROVIDER_KEY,
        "SWITCHYARD_ADMIN_KEY": ADMIN_KEY,
        "SWITCHYARD_LEDGER_PATH": str(directory / f"ledger-{free_port()}.sqlite3"),
        "XDG_DATA_HOME": str(directory),  # keys.json and the like stay out of $HOME
        "SWITCHYARD_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "SWITCHYARD_MAX_MESSAGES": str(MAX_MESSAGES),
        **extra,
    }


@dataclass
class HardenedStack(Stack):
    """The shared stack, with the keys' headers and ledger access."""

    @property
    def client_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {CLIENT_KEY}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {ADMIN_KEY}"}

    def usage(self, request_id: str) -> list[dict[str, Any]]:
        """The ledger's records of one request, by attempt."""
        records = httpx.get(f"{self.gateway.url}/admin/usage", headers=self.admin_headers, params={"limit": 10000}).json()["data"]
        return sorted((r for r in records if r["request_id"] == request_id), key=lambda r: r["attempt"])

    def wait_for_usage(self, request_id: str, attempts: int) -> list[dict[str, Any]]:
        """The request's records once `attempts` of them are in the ledger (it is written in batches)."""
        return wait_for(lambda: (records := self.usage(request_id)) and len(records) >= attempts and records,
                        f"{attempts} ledger record(s) of {request_id}", timeout_s=10)

    def reset(self) -> None:
        for name in self.emulators:
            self.set_faults(name, fail_rate=0.0, ttft_ms=0, tpot_ms=0)
        self.clear_requests()


@pytest.fixture(scope="session")
def hardened_stack(session_servers: ServerLauncher) -> HardenedStack:
    emulators = {
        "primary": session_servers.emulator("vllm", "--seed", "11", name="hardening-primary"),
        "secondary": session_servers.emulator("novita", "--seed", "12", name="hardening-secondary"),
    }
    policy = hardening_policy(emulators["primary"].v1, emulators["secondary"].v1, circuit="{enabled: false}")
    gateway = start_gateway(session_servers, policy, gateway_env(session_servers.directory))
    return HardenedStack(gateway, emulators)


@pytest.fixture()
def stack(hardened_stack: HardenedStack) -> HardenedStack:
    hardened_stack.reset()
    yield hardened_stack
    hardened_stack.reset()
