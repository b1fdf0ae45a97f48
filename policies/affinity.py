"""Prefix affinity: the key that identifies a conversation, and whether its remembered backend goes first.

vLLM and SGLang serve a prompt's leading blocks from their prefix cache only on the replica that
computed them, and DeepSeek, Novita and Fireworks bill a cache hit at their cached-input price only
on the provider that saw the prefix; so a conversation that returns to the backend that served it
last pays less prefill (time) and less input (money). OpenRouter keeps conversations "sticky" to a
provider for this reason (openrouter.ai/docs/features/prompt-caching, read 2026-12); llm-d's
prefix-cache scorer does it for replicas (llm-d.ai/docs/architecture, read 2026-12).

Pure: the gateway computes the key here (`affinity_key`), looks the remembered backend up in its
state store, passes it to `decide` in `RequestFeatures.affinity`, and records the serving backend
after a success. The engine decides whether to honour it (`affinity_verdict`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.schema import AffinitySpec
from policies.token_estimate import count_prompt_chars

if TYPE_CHECKING:
    from policies.candidate import Candidate

__all__ = ["AffinityLookup", "AffinityVerdict", "affinity_key", "prefix_messages", "cached_prefix_share", "honour_affinity"]


@dataclass(frozen=True, slots=True)
class AffinityLookup:
    """What the gateway found for this request before `decide`.

    `key` is the state-store key (route name and a digest; None when the request carries no key,
    e.g. the header is absent); `remembered` the backend that served it last (None: unknown or
    expired); `cached_share` the share of the prompt's characters before its last message, which the
    remembered backend has cached if it served the previous turn.
    """

    kind: str
    key: str | None
    remembered: str | None = None
    cached_share: float = 0.0


@dataclass(frozen=True, slots=True)
class AffinityVerdict:
    """Whether the remembered backend went first, and why (shown by `explain`)."""

    kind: str
    key: str | None
    remembered: str | None
    honoured: bool
    reason: str
    ttl_s: float


def prefix_messages(messages: Sequence[Any], count: int) -> list[Any]:
    """The leading `count` messages, ending at the first user message at the latest.

    Stopping at the first user message gives a conversation's first turn (system, user) and its
    later turns (system, user, assistant, user, ...) the same key, whatever `count` is.
    """
    taken: list[Any] = []
    for message in messages[:count]:
        taken.append(message)
        if isinstance(message, Mapping) and message.get("role") == "user":
            break
    return taken


def _digest(*parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def affinity_key(route: str, spec: AffinitySpec, body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """The state-store key for this request on `route`, or None when the request carries none.

    `prefix`: a digest of the leading messages (`prefix_messages`) and the tools (chat templates
    render them into the prompt's head); `header:<name>`: a digest of that header's value
    (`headers` with lower-case names); `user`: a digest of the body's `user`. Digests keep keys
    short whatever the client sends. The body is the internal chat body every front door produces.
    """
    kind = spec.key
    if kind == "prefix":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return None
        value: object = [prefix_messages(messages, spec.prefix_messages), body.get("tools") or None]
    elif kind == "user":
        value = body.get("user")
        if not isinstance(value, str) or not value:
            return None
    else:
        value = headers.get(kind.removeprefix("header:").lower())
        if not value:
            return None
    return f"{route}:{_digest(kind, value)}"


def cached_prefix_share(body: Mapping[str, Any]) -> float:
    """Share of the prompt's characters (`count_prompt_chars`: text, tool calls, tool schemas) outside its last message.

    The backend that served the previous turn cached that turn's prompt and its answer, which is
    everything but the new last message; a first turn repeated verbatim shares its system prompt.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        return 0.0
    total, _ = count_prompt_chars(body)
    last, _ = count_prompt_chars({"messages": messages[-1:]})
    return (total - last) / total if total else 0.0


def _not_honoured_because(spec: AffinitySpec, remembered: Candidate | None, name: str,
                          dropped: Mapping[str, str]) -> str | None:
    """Why the remembered backend cannot go first, or None when it can.

    Saturated for affinity: dropped by the route's filters (unhealthy, circuit open, at its
    `limits`, over the SLO or price ceiling), or in panic mode (circuit open), or its engine queue
    at `spec.max_waiting`, or its KV usage at `spec.max_kv_usage`. A queue means a new request
    waits for other prefills first, which can cost more than recomputing the prefix elsewhere; near
    full KV the engine evicts cached blocks anyway.
    """
    if remembered is None:
        why = dropped.get(name)
        return f"{name} was dropped: {why}" if why else f"{name} is not a candidate of this route"
    state = remembered.state
    if state.circuit_open or not state.healthy:
        return f"{name} is not healthy (circuit open or probe failing)"
    if state.waiting is not None and state.waiting >= spec.max_waiting:
        return f"{name} is saturated: waiting {state.waiting} >= affinity.max_waiting {spec.max_waiting}"
    if state.kv_usage is not None and state.kv_usage >= spec.max_kv_usage:
        return f"{name} is saturated: kv_usage {state.kv_usage:.2f} >= affinity.max_kv_usage {spec.max_kv_usage:.2f}"
    return None


def _costlier_than_cheapest(remembered: Candidate, ranked: Sequence[Candidate]) -> str | None:
    """For `prefer: cost`: why staying is not chosen (another candidate is cheaper even with the cache)."""
    known = [c for c in ranked if c.expected_cost_usd is not None]
    if remembered.expected_cost_usd is None or not known:
        return None
    cheapest = min(known, key=lambda c: c.expected_cost_usd or 0.0)
    if cheapest.expected_cost_usd is not None and cheapest.expected_cost_usd < remembered.expected_cost_usd:
        return (f"{cheapest.name} is cheaper ({cheapest.expected_cost_usd:.6g} USD) than staying on {remembered.name} "
                f"({remembered.expected_cost_usd:.6g} USD with its cached prefix)")
    return None


def honour_affinity(
    spec: AffinitySpec, lookup: AffinityLookup | None, ranked: list[Candidate], dropped: Mapping[str, str], strategy: str,
) -> tuple[list[Candidate], AffinityVerdict]:
    """`ranked` with the remembered backend moved first when it may be, and the verdict.

    With `prefer: cost` the remembered backend is already priced with its cached prefix
    (`policies.engine`), so it goes first only when no candidate is cheaper (ties stay); with every
    other strategy it goes first whenever it is healthy and not saturated.
    """
    kind = lookup.kind if lookup else spec.key
    key = lookup.key if lookup else None
    remembered = lookup.remembered if lookup else None

    def verdict(honoured: bool, reason: str) -> AffinityVerdict:
        return AffinityVerdict(kind, key, remembered, honoured, reason, spec.ttl_s)

    if lookup is None:
        return ranked, verdict(False, "not looked up (no affinity store here, e.g. offline explain): the route's order decides")
    if key is None:
        return ranked, verdict(False, f"this request carries no {kind} key")
    if remembered is None:
        return ranked, verdict(False, "no backend remembered for this key: the route's order decides")
    position = next((i for i, c in enumerate(ranked) if c.name == remembered), None)
    candidate = ranked[position] if position is not None else None
    why_not = _not_honoured_because(spec, candidate, remembered, dropped)
    if why_not is None and candidate is not None and strategy == "cost":
        why_not = _costlier_than_cheapest(candidate, ranked)
    if why_not is not None or candidate is None or position is None:
        return ranked, verdict(False, f"{why_not}; the key moves to whoever serves")
    reordered = [candidate, *ranked[:position], *ranked[position + 1:]]
    return reordered, verdict(True, f"{remembered} served this key last and is healthy and not saturated")
