"""What the engine knows about a request: the few facts routes test, read once from the body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from policies.affinity import AffinityLookup
from policies.model_aliases import alias_table
from policies.thinking_need import ThinkingSource, thinking_verdict
from policies.token_estimate import TokenEstimator, count_prompt_chars, shared_estimator

if TYPE_CHECKING:
    from policies.schema import Policy

__all__ = ["RequestFeatures", "extract_features"]


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """The routing-relevant facts of one request (chat or completions body plus headers).

    `input_chars` is kept so the gateway can call `TokenEstimator.observe(input_chars,
    usage.prompt_tokens)` when the response reports real usage. `headers` has lower-case names.
    `thinking_source` says which signal set `thinking` (`policies.thinking_need`); a `when:
    {thinking: true}` matches a detected need exactly like an explicit one.
    """

    model: str
    thinking: bool | None = None
    thinking_source: ThinkingSource | None = None
    thinking_score: float | None = None  # the detector's score, when it decided
    input_tokens: int = 0
    input_chars: int = 0
    max_tokens: int | None = None
    tools: bool = False
    stream: bool = False
    response_format: str | None = None
    key_tags: frozenset[str] = frozenset()
    headers: Mapping[str, str] = field(default_factory=dict)
    budget_remaining_usd: float | None = None
    model_alias: str | None = None  # the `models:` entry `model` resolved to (itself, or the glob pattern that matched)
    affinity: AffinityLookup | None = None  # set by the gateway before `decide` when the route has `affinity:`


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _response_format(body: Mapping[str, Any]) -> str | None:
    value = body.get("response_format")
    if isinstance(value, Mapping):
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    return None


def extract_features(
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    policy: Policy,
    key_tags: frozenset[str] = frozenset(),
    *,
    budget_remaining_usd: float | None = None,
    estimator: TokenEstimator | None = None,
) -> RequestFeatures:
    """Features of one request; never raises on odd bodies (an unknown model is `decide`'s call)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    model = body.get("model")
    model = model if isinstance(model, str) else ""
    resolved = alias_table(policy).resolve(model)
    alias = resolved[1] if resolved else None
    chars, messages = count_prompt_chars(body)
    verdict = thinking_verdict(body, lowered, alias.thinking if alias else None, policy.thinking_detection.threshold)
    return RequestFeatures(
        model=model,
        thinking=verdict.thinking,
        thinking_source=verdict.source,
        thinking_score=verdict.score,
        input_tokens=(estimator or shared_estimator).estimate(chars, messages),
        input_chars=chars,
        max_tokens=_max_tokens(body),
        tools=bool(body.get("tools")),
        stream=body.get("stream") is True,
        response_format=_response_format(body),
        key_tags=frozenset(key_tags),
        headers=lowered,
        budget_remaining_usd=budget_remaining_usd,
        model_alias=resolved[0] if resolved else None,
    )
