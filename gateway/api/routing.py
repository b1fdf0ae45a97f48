"""The routing step shared by the completion endpoints and `/v1/route/explain`."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from gateway.errors import as_gateway_error
from gateway.runtime import GatewayRuntime
from policies.decision import Decision
from policies.engine import decide
from policies.errors import RoutingError
from policies.features import RequestFeatures, extract_features

__all__ = ["route_request"]


def route_request(
    runtime: GatewayRuntime, body: dict[str, Any], headers: Mapping[str, str], rng: random.Random,
    *, key_tags: frozenset[str] = frozenset(),
) -> tuple[RequestFeatures, Decision]:
    """The request's features and the policy's decision on the live state; routing errors become
    the gateway's OpenAI-shaped errors (404 unknown model, 503 with every backend's reason, ...)."""
    policy = runtime.policy
    features = extract_features(body, headers, policy, key_tags)
    try:
        return features, decide(policy, features, runtime.state.snapshot(), rng)
    except RoutingError as exc:
        raise as_gateway_error(exc) from None
