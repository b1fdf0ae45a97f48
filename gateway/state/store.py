"""The state store interface: what dispatch reports and what the policy engine reads."""

from __future__ import annotations

from typing import Protocol

from gateway.outcomes import AttemptOutcome
from policies.state import StateSnapshot

__all__ = ["StateStore"]


class StateStore(Protocol):
    """Per-backend live state shared by every request (and, with Redis, by every replica)."""

    def attempt_started(self, backend: str) -> None:
        """One more request is open to `backend`."""
        ...

    def record(self, outcome: AttemptOutcome) -> None:
        """An attempt ended (closes what `attempt_started` opened)."""
        ...

    def snapshot(self) -> StateSnapshot:
        """The state the policy engine decides on; cheap enough to call per request."""
        ...
