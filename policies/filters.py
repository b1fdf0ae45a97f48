"""Candidate filters: each says why a backend cannot serve this request, or None if it can.

Applied in this order; the first reason found is reported. Saturation is "at or beyond" a limit:
a backend at max_in_flight has no room for one more request.

Panic mode (Envoy's "panic threshold"): when every candidate of a route would be dropped only
because its circuit is open (`only_circuit_open`), all are tried anyway: a gateway that refuses
everything serves nobody, while an open circuit may be stale or too eager.
"""

from __future__ import annotations

from collections.abc import Callable

from policies.compiled import CompiledBackend
from policies.features import RequestFeatures
from policies.schema import ModelAliasSpec
from policies.state import BackendState

__all__ = ["CandidateFilter", "FILTERS", "CIRCUIT_OPEN", "only_circuit_open"]

CandidateFilter = Callable[[CompiledBackend, BackendState, RequestFeatures, ModelAliasSpec], str | None]


def wrong_family(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """The requested model alias names a family this backend does not serve."""
    if alias.family is None or backend.family == alias.family:
        return None
    return f"serves {backend.family or 'an unknown family'}, model {request.model} needs {alias.family}"


def no_thinking(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """The request needs thinking and the backend cannot think."""
    if request.thinking is True and not backend.thinking:
        return "cannot serve thinking mode"
    return None


def no_thinking_with_tools(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """The request needs thinking and carries tools; the backend's family calls tools only without thinking
    (`thinking_with_tools`, from the family catalog `policies.families`)."""
    if request.thinking is True and request.tools and backend.thinking and not backend.thinking_with_tools:
        family = backend.family or "this backend"
        return f"cannot think with tools: {family} calls tools only in non-thinking mode"
    return None


def context_too_small(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """Context window < estimated input tokens + max_tokens (0 when the request sets none)."""
    window = backend.context_window
    needed = request.input_tokens + (request.max_tokens or 0)
    if window is None or needed <= window:
        return None
    return (
        f"context window {window} < {needed} tokens needed "
        f"(input ~{request.input_tokens} + max_tokens {request.max_tokens or 0})"
    )


def unhealthy(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """The last health probe failed."""
    return None if state.healthy else "unhealthy (health probe failing)"


CIRCUIT_OPEN = "circuit open"


def circuit_open(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """The circuit breaker is open after repeated failures."""
    return CIRCUIT_OPEN if state.circuit_open else None


def saturated(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> str | None:
    """A figure is at or beyond its limit in `limits`."""
    limits = backend.spec.limits
    if limits.max_in_flight is not None and state.in_flight >= limits.max_in_flight:
        return f"saturated: in_flight {state.in_flight} >= max_in_flight {limits.max_in_flight}"
    if limits.max_waiting is not None and state.waiting is not None and state.waiting >= limits.max_waiting:
        return f"saturated: waiting {state.waiting} >= max_waiting {limits.max_waiting}"
    kv_usage = state.kv_usage
    if limits.max_kv_usage is not None and kv_usage is not None and kv_usage >= limits.max_kv_usage:
        return f"saturated: kv_usage {kv_usage:.2f} >= max_kv_usage {limits.max_kv_usage:.2f}"
    return None


FILTERS: tuple[CandidateFilter, ...] = (
    wrong_family, no_thinking, no_thinking_with_tools, context_too_small, unhealthy, circuit_open, saturated,
)


def only_circuit_open(
    backend: CompiledBackend, state: BackendState, request: RequestFeatures, alias: ModelAliasSpec
) -> bool:
    """The open circuit is the only filter that drops this backend (a panic-mode candidate)."""
    return state.circuit_open and all(
        check(backend, state, request, alias) is None for check in FILTERS if check is not circuit_open
    )
