"""The routing step shared by the completion endpoints and `/v1/route/explain`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gateway.errors import InvalidRequestError, as_gateway_error
from gateway.runtime import GatewayRuntime
from gateway.state.affinity_store import AffinityStore
from policies.affinity import AffinityLookup, affinity_key, cached_prefix_share
from policies.decision import Decision
from policies.engine import decide, matched_route, uses_affinity
from policies.errors import NoCandidateError, RoutingError
from policies.features import RequestFeatures, extract_features

__all__ = ["route_request"]


async def route_request(
    runtime: GatewayRuntime, body: dict[str, Any], headers: Mapping[str, str], rng: random.Random,
    *, key_tags: frozenset[str] = frozenset(), budget_remaining_usd: float | None = None,
    affinity: AffinityStore | None = None,
) -> tuple[RequestFeatures, Decision]:
    """The request's features and the policy's decision on the live state; routing errors become
    the gateway's OpenAI-shaped errors (404 unknown model, 503 with every backend's reason, ...).

    When the matched route has `affinity:` the backend remembered for this request's key is looked
    up in `affinity` first and handed to the (pure) engine in `RequestFeatures.affinity`. `body` is
    the internal chat body every front door produces, so the key is the same whichever protocol
    the client speaks."""
    policy = runtime.policy
    features = extract_features(body, headers, policy, key_tags, budget_remaining_usd=budget_remaining_usd)
    if affinity is not None and uses_affinity(policy):
        features = await _with_affinity(runtime, features, body, affinity)
    try:
        return features, decide(policy, features, runtime.state.snapshot(), rng)
    except NoCandidateError as exc:
        _check_fits_some_context_window(runtime, features)
        raise as_gateway_error(exc) from None
    except RoutingError as exc:
        raise as_gateway_error(exc) from None


async def _with_affinity(
    runtime: GatewayRuntime, features: RequestFeatures, body: Mapping[str, Any], store: AffinityStore
) -> RequestFeatures:
    route = matched_route(runtime.policy, features)
    if route is None or route.affinity is None:
        return features
    key = affinity_key(route.name, route.affinity, body, features.headers)
    remembered = await store.lookup(key) if key is not None else None
    return replace(features, affinity=AffinityLookup(route.affinity.key, key, remembered, cached_prefix_share(body)))


def _check_fits_some_context_window(runtime: GatewayRuntime, features: RequestFeatures) -> None:
    """400 `context_length_exceeded` (OpenAI's code) when no backend's window could ever hold the
    request: that is the client's mistake, not an outage (503) to retry."""
    windows = [spec.context_window for spec in runtime.policy.backends.values()]
    if not windows or None in windows:
        return  # some backend's window is unknown: it might fit there
    largest = max(w for w in windows if w is not None)
    max_tokens = features.max_tokens or 0
    needed = features.input_tokens + max_tokens
    if needed <= largest:
        return
    raise InvalidRequestError(
        f"this request needs about {needed} tokens (input ~{features.input_tokens} + max_tokens {max_tokens}); "
        f"the largest context window of any backend is {largest} tokens",
        param="max_tokens" if max_tokens >= largest else "messages", code="context_length_exceeded",
    )
