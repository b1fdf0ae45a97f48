"""Shared fixtures for the policy tests: a small policy built from plain dicts."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies.schema import Policy
from policies.semantic_checks import check_policy

BASE_POLICY: dict[str, Any] = {
    "version": 1,
    "backends": {
        "local": {
            "type": "vllm",
            "model": "deepseek-ai/DeepSeek-V3.2",
            "family": "deepseek-v3.2",
            "limits": {"max_in_flight": 4, "max_waiting": 2, "max_kv_usage": 0.9},
        },
        "novita": {
            "type": "novita",
            "model": "deepseek/deepseek-v3.2",
            "family": "deepseek-v3.2",
            "price": {"input_usd_per_mtok": 0.27, "cached_input_usd_per_mtok": 0.13, "output_usd_per_mtok": 0.40},
        },
        "terminus": {
            "type": "fireworks",
            "model": "accounts/fireworks/models/deepseek-v3p1-terminus",
            "family": "deepseek-v3.1-terminus",
            "context_window": 131072,
            "price": {"input_usd_per_mtok": 0.56, "output_usd_per_mtok": 1.68},
        },
        "plain": {
            "type": "openai",
            "model": "some-model",
            "thinking": False,
            "context_window": 8192,
            "price": {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0},
        },
    },
    "models": {
        "auto": {},
        "deepseek-v3.2": {"family": "deepseek-v3.2"},
        "deepseek-reasoner": {"thinking": True},
        "deepseek-chat": {"thinking": False},
    },
    "routes": [{"name": "all", "use": ["local", "novita", "terminus", "plain"], "prefer": "order"}],
}


@pytest.fixture
def make_policy() -> Callable[..., Policy]:
    """make_policy(routes=[...], backends={name: overrides}, max_attempts=n) -> a checked Policy."""

    def build(
        routes: list[dict[str, Any]] | None = None,
        backends: dict[str, dict[str, Any]] | None = None,
        max_attempts: int | None = None,
    ) -> Policy:
        data = copy.deepcopy(BASE_POLICY)
        if routes is not None:
            data["routes"] = routes
        for name, overrides in (backends or {}).items():
            data["backends"].setdefault(name, {}).update(overrides)
        if max_attempts is not None:
            data["fallback"] = {"max_attempts": max_attempts}
        policy = Policy.model_validate(data)
        assert check_policy(policy) == []
        return policy

    return build
