"""End-to-end stacks: emulator processes behind a gateway process, started once per session.

Two stacks: `provider_stack` (one emulator per provider profile, each pinned by a model alias)
and `fallback_stack` (a primary whose faults tests switch at run time, a secondary, and a
"doomed" emulator a test kills).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

PROFILES = ("vllm", "sglang", "novita", "fireworks", "deepseek")

TIMEOUTS = "{connect_s: 1, first_token_s: 2, total_s: 30}"


def per_provider_policy(urls: dict[str, str]) -> str:
    """One backend per provider type, each pinned by a model alias `via-<type>`; `auto` prefers local,
    and a request to it that the detector finds needs thinking goes to the Fireworks emulator."""
    return f"""
version: 1
backends:
  local:
    type: vllm
    base_url: {urls['vllm']}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    thinking: true
    cost: {{gpu_hourly_usd: 3.6, gpus: 8}}
    timeouts: {TIMEOUTS}
  sglang:
    type: sglang
    base_url: {urls['sglang']}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    thinking: true
    timeouts: {TIMEOUTS}
  novita:
    type: novita
    base_url: {urls['novita']}
    api_key: ${{E2E_NOVITA_KEY:-sk-novita-e2e-secret}}
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
    thinking: true
    price: {{input_usd_per_mtok: 0.27, cached_input_usd_per_mtok: 0.13, output_usd_per_mtok: 0.40}}
    timeouts: {TIMEOUTS}
  fireworks:
    type: fireworks
    base_url: {urls['fireworks']}
    api_key: sk-fireworks-e2e-secret
    model: accounts/fireworks/models/deepseek-v3p1-terminus
    family: deepseek-v3.1-terminus
    thinking: true
    price: {{input_usd_per_mtok: 0.56, output_usd_per_mtok: 1.68}}
    timeouts: {TIMEOUTS}
  deepseek:
    type: deepseek
    base_url: {urls['deepseek']}
    api_key: sk-deepseek-e2e-secret
    model: deepseek-v4-flash
    family: deepseek-v4-flash
    thinking: true
    price: {{input_usd_per_mtok: 0.28, cached_input_usd_per_mtok: 0.028, output_usd_per_mtok: 0.42}}
    timeouts: {TIMEOUTS}
models:
  auto: {{thinking: auto}}
  deepseek-reasoner: {{thinking: true}}
  via-vllm: {{}}
  via-sglang: {{}}
  via-novita: {{}}
  via-fireworks: {{}}
  via-deepseek: {{}}
routes:
  - {{name: to-vllm, when: {{model: via-vllm}}, use: [local]}}
  - {{name: to-sglang, when: {{model: via-sglang}}, use: [sglang]}}
  - {{name: to-novita, when: {{model: via-novita}}, use: [novita]}}
  - {{name: to-fireworks, when: {{model: via-fireworks}}, use: [fireworks]}}
  - {{name: to-deepseek, when: {{model: via-deepseek}}, use: [deepseek]}}
  - {{name: auto-thinking, when: {{model: auto, thinking: true}}, use: [fireworks]}}
  - {{name: default, use: [local, novita], prefer: order}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 3
"""


def fallback_policy(primary: str, secondary: str, doomed: str) -> str:
    """`auto`: primary then secondary; `via-doomed`: an emulator the test kills, then secondary."""
    return f"""
version: 1
backends:
  primary:
    type: vllm
    base_url: {primary}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    thinking: true
    timeouts: {{connect_s: 1, first_token_s: 1, total_s: 2}}  # non-streamed answers wait up to total_s
  secondary:
    type: novita
    base_url: {secondary}
    model: deepseek/deepseek-v3.2
    family: deepseek-v3.2
    thinking: true
    price: {{input_usd_per_mtok: 0.27, output_usd_per_mtok: 0.40}}
    timeouts: {TIMEOUTS}
  doomed:
    type: vllm
    base_url: {doomed}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    thinking: true
    timeouts: {TIMEOUTS}
models:
  auto: {{}}
  deepseek-chat: {{thinking: false}}
  via-doomed: {{}}
routes:
  - {{name: doomed-first, when: {{model: via-doomed}}, use: [doomed, secondary]}}
  - {{name: default, use: [primary, secondary], prefer: order}}
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 3
  circuit_breaker: {{enabled: false}}  # these tests fail the primary on purpose, request after request
"""


@dataclass
class Stack:
    """A gateway and the emulators behind it, by name."""

    gateway: Any  # ServerProcess (tests/conftest.py)
    emulators: dict[str, Any]

    def upstream_requests(self, name: str) -> list[dict]:
        """What emulator `name` received (newest last)."""
        return httpx.get(f"{self.emulators[name].url}/_emulator/requests").json()["requests"]

    def clear_requests(self) -> None:
        for emulator in self.emulators.values():
            if emulator.process.poll() is None:
                httpx.delete(f"{emulator.url}/_emulator/requests")

    def set_faults(self, name: str, **config: object) -> None:
        response = httpx.post(f"{self.emulators[name].url}/_emulator/config", json=config)
        response.raise_for_status()


@pytest.fixture(scope="session")
def provider_stack(session_servers: Any) -> Stack:
    emulators = {profile: session_servers.emulator(profile, "--seed", "7") for profile in PROFILES}
    gateway = session_servers.gateway(per_provider_policy({p: e.v1 for p, e in emulators.items()}),
                                      env={"SWITCHYARD_MAX_BODY_BYTES": "65536"})
    return Stack(gateway, emulators)


@pytest.fixture(scope="session")
def fallback_stack(session_servers: Any) -> Stack:
    emulators = {
        "primary": session_servers.emulator("vllm", "--slow-ms", "30", name="primary"),
        "secondary": session_servers.emulator("novita", name="secondary"),
        "doomed": session_servers.emulator("vllm", name="doomed"),
    }
    policy = fallback_policy(emulators["primary"].v1, emulators["secondary"].v1, emulators["doomed"].v1)
    return Stack(session_servers.gateway(policy), emulators)
