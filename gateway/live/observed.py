"""What the live jobs have seen of each backend, and its routing-relevant part pushed into the store."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.state.store import StateStore
from policies.state import BackendState

__all__ = ["ObservedBackend", "ObservedFigures"]


@dataclass(slots=True)
class ObservedBackend:
    """Latest health probe and /metrics scrape of one backend (times are unix seconds)."""

    healthy: bool = True
    probe_failures: int = 0  # consecutive failed probes
    probed_at: float | None = None
    probe_error: str | None = None
    waiting: int | None = None
    running: int | None = None
    kv_usage: float | None = None
    scraped_at: float | None = None
    scrape_error: str | None = None

    def as_state(self) -> BackendState:
        return BackendState(healthy=self.healthy, waiting=self.waiting, running=self.running, kv_usage=self.kv_usage)


class ObservedFigures:
    """Per-backend observations; `publish` hands the store the merged figures of both jobs."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.backends: dict[str, ObservedBackend] = {}

    def of(self, backend: str) -> ObservedBackend:
        observed = self.backends.get(backend)
        if observed is None:
            observed = self.backends[backend] = ObservedBackend()
        return observed

    def publish(self, backend: str) -> None:
        self._store.set_external(backend, self.of(backend).as_state())
