"""What happened on each upstream attempt, published to whoever listens (live state, usage ledger,
metrics). Listeners are called on the event loop and must not block: queue work, don't do it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from backends.usage import Usage

__all__ = ["AttemptOutcome", "OutcomeHub", "OutcomeListener"]

log = logging.getLogger("switchyard.outcomes")


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """One call to one backend, successful or not."""

    request_id: str
    attempt: int  # 1-based position in the fallback chain
    backend: str
    route: str | None
    upstream_model: str
    streamed: bool
    ok: bool
    status: int  # upstream HTTP status, or the status the client got for a failure without one
    error_kind: str | None  # UpstreamError.kind, "client_disconnected", or None when ok
    latency_ms: float
    ttft_ms: float | None  # observed on streams only; a non-streamed answer's first token is not seen
    usage: Usage | None
    cost_usd: float | None
    started_at: float  # unix seconds
    key_name: str | None = None
    input_chars: int = 0  # prompt characters of the client's request (RequestFeatures.input_chars)
    tried: tuple[str, ...] = ()  # backends attempted for this request so far, this one last (the fallback chain)
    protocol: str | None = None  # the client's API: openai-chat, openai-completions, anthropic-messages, openai-responses
    thinking: bool | None = None  # the request's thinking need (Decision.thinking)
    thinking_source: str | None = None  # which signal decided it: header | body | model | detected

    @property
    def output_tokens(self) -> int:
        return self.usage.completion_tokens if self.usage else 0


OutcomeListener = Callable[[AttemptOutcome], None]


class OutcomeHub:
    """Fan-out of attempt outcomes; a failing listener is logged, never breaks a request."""

    def __init__(self) -> None:
        self._listeners: list[OutcomeListener] = []

    def subscribe(self, listener: OutcomeListener) -> None:
        self._listeners.append(listener)

    def publish(self, outcome: AttemptOutcome) -> None:
        for listener in self._listeners:
            try:
                listener(outcome)
            except Exception:
                log.exception("outcome listener %r failed", listener)
