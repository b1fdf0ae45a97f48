"""The gateway's own routing logic, driven in simulated time: the one place `gateway simulate` touches it.

Everything here is the serving code itself, not a copy: `policies.features.extract_features` reads
each request, `policies.engine.decide` routes it on a `StateSnapshot` built by the gateway's
`MemoryStateStore` (sliding latency windows, in-flight counts, circuit breakers; its clock is the
simulation's), and `ObservedFigures.publish` feeds it the queue, running count and KV usage a
/metrics scrape would see. Attempts are reported as `AttemptOutcome`s exactly as
`gateway/dispatch.py` reports them (TTFT only for streams), and `admit` / `attempt_started` are
called in the same order. So when the serving logic learns something new (latency that decays,
load-aware strategies, affinity), the simulator follows without changes here, unless the new logic
needs a new call, which then belongs in this module only.

Requests without a `body` are given a minimal chat body carrying what the trace says
(gateway.simulate.trace_bodies: model, stream, thinking, tools) and their headers; its features are
computed once per distinct shape and reused with the trace's token counts, since
`extract_features` is a pure function of body and headers.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

from gateway.live.observed import ObservedFigures
from gateway.live.token_learning import MIN_CHARS_TO_LEARN
from gateway.outcomes import AttemptOutcome
from gateway.simulate.trace_bodies import chat_body, recorded_body
from gateway.state.memory import MemoryStateStore
from planner.trace.record import TraceRecord
from policies.decision import Decision
from policies.engine import decide
from policies.features import RequestFeatures, extract_features
from policies.schema import Policy
from policies.token_estimate import TokenEstimator

__all__ = ["ServingLogic"]

_FEATURE_FIELDS = dataclasses.fields(RequestFeatures)


class ServingLogic:
    """Features, decisions and live state for one policy, on a simulated clock."""

    def __init__(self, policy: Policy, clock: Callable[[], float], *, seed: int = 0, default_model: str | None = None) -> None:
        self.policy = policy
        self.store = MemoryStateStore(policy.fallback.circuit_breaker, clock=clock)
        self.store.configure_circuits(policy.fallback.circuit_breaker)
        self.observed = ObservedFigures(self.store)
        self.estimator = TokenEstimator()
        self.rng = random.Random(seed)
        self.fallback_on = frozenset(policy.fallback.on)
        self.max_attempts = policy.fallback.max_attempts
        self.default_model = default_model or ("auto" if "auto" in policy.models else next(iter(policy.models)))
        self._key_tags = {key.name: frozenset(key.tags) for key in policy.keys}
        self._shapes: dict[tuple, dict[str, Any]] = {}

    def _shape_features(self, record: TraceRecord, model: str) -> dict[str, Any]:
        headers = record.headers
        shape = (model, record.stream, record.thinking, record.tools, record.key,
                 tuple(sorted(headers.items())) if headers else ())
        features = self._shapes.get(shape)
        if features is None:
            body = chat_body(record, model)
            tags = self._key_tags.get(record.key or "", frozenset())
            extracted = extract_features(body, headers or {}, self.policy, tags, estimator=self.estimator)
            features = self._shapes[shape] = {f.name: getattr(extracted, f.name) for f in _FEATURE_FIELDS}
        return features

    def features(self, record: TraceRecord) -> RequestFeatures:
        """What routing reads from this request, as `extract_features` reads it when serving."""
        model = record.model or self.default_model
        body = recorded_body(record, model)
        if body is not None:
            tags = self._key_tags.get(record.key or "", frozenset())
            return extract_features(body, record.headers or {}, self.policy, tags, estimator=self.estimator)
        return RequestFeatures(**{**self._shape_features(record, model), "input_tokens": record.prompt_tokens,
                                  "max_tokens": record.max_tokens})

    def decide(self, features: RequestFeatures) -> Decision:
        """The engine's decision on the store's snapshot now; raises its errors (no route, no candidate)."""
        return decide(self.policy, features, self.store.snapshot(), self.rng)

    def admit(self, backend: str, request_id: str) -> bool:
        return self.store.admit(backend, request_id)

    def attempt_started(self, backend: str) -> None:
        self.store.attempt_started(backend)

    def attempt_ended(self, outcome: AttemptOutcome) -> None:
        """What the gateway's OutcomeHub listeners do with an attempt: live state, then token learning."""
        self.store.record(outcome)
        usage = outcome.usage
        if outcome.ok and usage is not None and outcome.input_chars >= MIN_CHARS_TO_LEARN:
            self.estimator.observe(outcome.input_chars, usage.prompt_tokens)

    def scraped(self, backend: str, waiting: int, running: int, kv_usage: float) -> None:
        """A /metrics scrape of `backend` saw these figures (gateway/live/scrape.py's publish)."""
        observed = self.observed.of(backend)
        observed.waiting, observed.running, observed.kv_usage = waiting, running, kv_usage
        self.observed.publish(backend)
