"""What a running gateway holds: the policy, one adapter per backend, prices, state, listeners."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from backends.base import Backend, BackendTimeouts
from backends.registry import create_backend
from gateway.live.token_learning import learn_prompt_tokens
from gateway.outcomes import OutcomeHub
from gateway.state.memory import MemoryStateStore
from gateway.state.store import StateStore
from policies.pricing import BackendPrice, resolve_price
from policies.schema import BackendSpec, Policy

__all__ = ["GatewayRuntime", "BackendEntry", "build_backend"]

log = logging.getLogger("switchyard.runtime")


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """One configured backend: its adapter, its spec, and the price its requests are billed at."""

    backend: Backend
    spec: BackendSpec
    price: BackendPrice | None


def build_backend(name: str, spec: BackendSpec, transport: httpx.AsyncBaseTransport | None = None) -> BackendEntry:
    """Adapter + price for one policy backend."""
    t = spec.timeouts
    backend = create_backend(
        name,
        spec.type,
        model=spec.model,
        base_url=spec.base_url,
        api_key=spec.api_key.get_secret_value() if spec.api_key else None,
        timeouts=BackendTimeouts(connect_s=t.connect_s, first_token_s=t.first_token_s, total_s=t.total_s),
        profile=spec.profile,
        transport=transport,
    )
    return BackendEntry(backend=backend, spec=spec, price=resolve_price(spec))


class GatewayRuntime:
    """The policy in force and everything built from it; `apply_policy` swaps it for new requests."""

    def __init__(
        self,
        policy: Policy,
        *,
        state: StateStore | None = None,
        hub: OutcomeHub | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        source: str = "<policy>",
        policy_path: Path | None = None,
    ) -> None:
        self.source = source  # where the policy came from, for /readyz and logs
        self.policy_path = policy_path  # the file hot reload watches; None: no watching
        self.loaded_at = 0.0  # unix time the policy in force was applied
        self._transport = transport
        self.state: StateStore = state or MemoryStateStore()
        self.hub = hub or OutcomeHub()
        self.hub.subscribe(self.state.record)
        self.hub.subscribe(learn_prompt_tokens)
        self._retired: list[Backend] = []
        self.backends: dict[str, BackendEntry] = {}
        self.policy_listeners: list[Callable[[Policy], None]] = []  # told of every policy applied after start
        self.apply_policy(policy)

    def apply_policy(self, policy: Policy) -> None:
        """Serve `policy` from now on; backends whose spec is unchanged keep their connections."""
        entries: dict[str, BackendEntry] = {}
        for name, spec in policy.backends.items():
            current = self.backends.get(name)
            if current is not None and current.spec == spec:  # keep its connections; its price may have moved
                entries[name] = BackendEntry(backend=current.backend, spec=spec, price=resolve_price(spec))
            else:
                entries[name] = build_backend(name, spec, self._transport)
        self._retired.extend(e.backend for n, e in self.backends.items() if n not in entries or entries[n].backend is not e.backend)
        self.policy = policy
        self.fallback_on = frozenset(policy.fallback.on)
        self.max_attempts = policy.fallback.max_attempts
        self.backends = entries
        self.state.configure_circuits(policy.fallback.circuit_breaker)
        self.loaded_at = time.time()
        for listener in self.policy_listeners:
            listener(policy)

    async def aclose(self) -> None:
        for backend in [*self._retired, *(e.backend for e in self.backends.values())]:
            await backend.aclose()
