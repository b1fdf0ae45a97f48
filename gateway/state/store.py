"""The state store interface: what dispatch reports, what the live jobs set, what the policy engine reads."""

from __future__ import annotations

from typing import Protocol

from gateway.live.circuit import CircuitState
from gateway.outcomes import AttemptOutcome
from policies.schema import CircuitBreakerSpec
from policies.state import BackendState, StateSnapshot

__all__ = ["StateStore"]


class StateStore(Protocol):
    """Per-backend live state shared by every request (and, with Redis, by every replica).

    Called on the event loop; every method but the live jobs' setters runs on the request path,
    so none may wait on I/O.
    """

    def admit(self, backend: str, request_id: str) -> bool:
        """May this attempt go to `backend` now? False while its circuit is open or its half-open
        trial is taken; a True in half-open makes this attempt the one trial."""
        ...

    def attempt_started(self, backend: str) -> None:
        """One more request is open to `backend`."""
        ...

    def record(self, outcome: AttemptOutcome) -> None:
        """An attempt ended (closes what `attempt_started` opened); feeds windows and circuit."""
        ...

    def snapshot(self) -> StateSnapshot:
        """The state the policy engine decides on; cheap enough to call per request."""
        ...

    def set_external(self, backend: str, state: BackendState) -> None:
        """Figures the live jobs observed (health, queue, running, KV usage), replacing the last."""
        ...

    def configure_circuits(self, spec: CircuitBreakerSpec) -> None:
        """Circuit-breaker settings of the policy in force."""
        ...

    def circuit_state(self, backend: str) -> CircuitState:
        """Closed, open or half-open, for /admin/status."""
        ...
