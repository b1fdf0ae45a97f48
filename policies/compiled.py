"""A policy prepared for the hot path: per-route predicates, backends, strategies and prices are
resolved once at load time so `decide` does no validation and no lookups by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policies.conditions import Predicate, compile_when
from policies.pricing import BackendPrice, resolve_price
from policies.schema import AffinitySpec, BackendSpec, ModelAliasSpec, Policy
from policies.strategies import Strategy, get_strategy
from policies.thinking_detector import load_model

__all__ = ["CompiledBackend", "CompiledRoute", "CompiledPolicy", "compile_policy", "compiled", "repriced"]


@dataclass(frozen=True, slots=True)
class CompiledBackend:
    """One backend with its price and capabilities resolved."""

    name: str
    spec: BackendSpec
    price: BackendPrice | None
    self_hosted: bool
    family: str | None
    thinking: bool
    thinking_with_tools: bool
    context_window: int | None


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """One route, ready to match and rank."""

    name: str
    matches: Predicate
    backends: tuple[CompiledBackend, ...]
    strategy: Strategy
    weights: Mapping[str, float] | None
    slo_ttft_p95_ms: float | None
    slo_tpot_p95_ms: float | None
    max_usd_per_mtok: float | None
    affinity: AffinitySpec | None = None


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """All routes in order, the model aliases, and the fallback chain length."""

    routes: tuple[CompiledRoute, ...]
    models: Mapping[str, ModelAliasSpec]
    model_names: tuple[str, ...]
    backends: Mapping[str, CompiledBackend]
    max_attempts: int
    has_affinity: bool = False  # some route has `affinity:` (the gateway looks keys up only then)


def _compile_backend(name: str, spec: BackendSpec) -> CompiledBackend:
    return CompiledBackend(
        name=name,
        spec=spec,
        price=resolve_price(spec),
        self_hosted=spec.self_hosted,
        family=spec.family,
        thinking=bool(spec.thinking),
        thinking_with_tools=bool(spec.thinking and spec.thinking_with_tools),
        context_window=spec.context_window,
    )


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Resolve `policy` for `decide`; assumes `semantic_checks.check_policy` found nothing."""
    if any(alias.thinking == "auto" for alias in policy.models.values()):
        load_model()  # read the detector's weights now, not on the first request
    backends = {name: _compile_backend(name, spec) for name, spec in policy.backends.items()}
    routes = tuple(
        CompiledRoute(
            name=route.name,
            matches=compile_when(route.when),
            backends=tuple(backends[name] for name in route.use),
            strategy=get_strategy(route.prefer),
            weights=dict(route.weights) if route.weights else None,
            slo_ttft_p95_ms=route.slo.ttft_p95_ms if route.slo else None,
            slo_tpot_p95_ms=route.slo.tpot_p95_ms if route.slo else None,
            max_usd_per_mtok=route.max_usd_per_mtok,
            affinity=route.affinity,
        )
        for route in policy.routes
    )
    return CompiledPolicy(
        routes=routes,
        models=dict(policy.models),
        model_names=tuple(policy.models),
        backends=backends,
        max_attempts=policy.fallback.max_attempts,
        has_affinity=any(route.affinity is not None for route in routes),
    )


def repriced(policy: Policy) -> Policy:
    """A copy of `policy` compiled afresh, so its prices are resolved again (after the cost map changed)."""
    fresh = policy.model_copy()
    fresh._compiled = None
    compiled(fresh)
    return fresh


def compiled(policy: Policy) -> CompiledPolicy:
    """`policy`'s compiled form, built on first use and kept on the policy object."""
    plan = policy.__pydantic_private__.get("_compiled")  # not `policy._compiled`: pydantic's __getattr__ costs ~5 us
    if plan is None:
        plan = compile_policy(policy)
        policy._compiled = plan
    return plan
