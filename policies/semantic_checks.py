"""Checks a schema-valid policy for mistakes pydantic cannot see: dangling names, dead routes,
strategies that do not exist, weights without `prefer: weighted`, prices a cost route needs.
"""

from __future__ import annotations

from collections.abc import Iterator

from policies.families import RETIRED_MODELS
from policies.pricing import missing_price_detail, resolve_price
from policies.schema import Policy, RouteSpec
from policies.strategies import STRATEGY_NAMES
from policies.validation_messages import FieldProblem

__all__ = ["check_policy"]


def check_policy(policy: Policy) -> list[FieldProblem]:
    """Every semantic problem in `policy`, in file order."""
    problems: list[FieldProblem] = []
    for index, route in enumerate(policy.routes):
        problems.extend(_check_route(policy, index, route))
    problems.extend(_check_route_names(policy))
    problems.extend(_check_alias_families(policy))
    problems.extend(_check_shadowing(policy))
    problems.extend(_check_retired_models(policy))
    problems.extend(_check_deployments(policy))
    return problems


def _check_retired_models(policy: Policy) -> Iterator[FieldProblem]:
    """A backend asking its provider for a model id the provider has retired would fail on every request."""
    for name, spec in policy.backends.items():
        replacement = RETIRED_MODELS.get(spec.provider_type, {}).get(spec.model)
        if replacement is not None:
            yield FieldProblem(("backends", name, "model"), False,
                               f"backend '{name}': {spec.provider_type} no longer serves '{spec.model}' (retired); "
                               f"use '{replacement}' with family: {replacement}")


def _check_route(policy: Policy, index: int, route: RouteSpec) -> Iterator[FieldProblem]:
    at = ("routes", index)
    label = f"route '{route.name}'"
    defined = ", ".join(policy.backends)
    for position, name in enumerate(route.use):
        if name not in policy.backends:
            message = f"{label}: unknown backend '{name}' in use (defined: {defined})"
            yield FieldProblem(at + ("use", position), False, message)
    if len(set(route.use)) != len(route.use):
        yield FieldProblem(at + ("use",), False, f"{label}: a backend is listed twice in use")
    if route.prefer not in STRATEGY_NAMES:
        yield FieldProblem(
            at + ("prefer",), False,
            f"{label}: unknown prefer strategy '{route.prefer}' (valid: {', '.join(STRATEGY_NAMES)})",
        )
    yield from _check_weights(route, at, label)
    if route.when is not None and route.when.model is not None:
        models = [route.when.model] if isinstance(route.when.model, str) else route.when.model
        for position, model in enumerate(models):
            if model not in policy.models:
                path = at + ("when", "model") + (() if isinstance(route.when.model, str) else (position,))
                yield FieldProblem(
                    path, False,
                    f"{label}: unknown model alias '{model}' in when.model (defined: {', '.join(policy.models)})",
                )
    if route.prefer == "cost" or route.max_usd_per_mtok is not None:
        for position, name in enumerate(route.use):
            spec = policy.backends.get(name)
            if spec is not None and resolve_price(spec) is None:
                yield FieldProblem(
                    at + ("use", position), False,
                    f"{label}: backend '{name}' has no price ({missing_price_detail(spec)}); "
                    f"add price: {{input_usd_per_mtok, output_usd_per_mtok}} to backends.{name}",
                )


def _check_weights(route: RouteSpec, at: tuple[str | int, ...], label: str) -> Iterator[FieldProblem]:
    if route.weights is not None and route.prefer != "weighted":
        yield FieldProblem(at + ("weights",), True, f"{label}: weights apply only with prefer: weighted")
        return
    if route.prefer != "weighted":
        return
    if not route.weights:
        yield FieldProblem(at + ("prefer",), False, f"{label}: prefer: weighted needs weights: {{backend: weight}}")
        return
    for name in route.weights:
        if name not in route.use:
            yield FieldProblem(at + ("weights", name), True, f"{label}: weight for '{name}', which is not in use")
    if not any(weight > 0 for weight in route.weights.values()):
        yield FieldProblem(at + ("weights",), False, f"{label}: at least one weight must be above 0")


def _check_route_names(policy: Policy) -> Iterator[FieldProblem]:
    seen: set[str] = set()
    for index, route in enumerate(policy.routes):
        if route.name in seen:
            yield FieldProblem(("routes", index, "name"), False, f"duplicate route name '{route.name}'")
        seen.add(route.name)


def _check_alias_families(policy: Policy) -> Iterator[FieldProblem]:
    served = {spec.family for spec in policy.backends.values()}
    for name, alias in policy.models.items():
        if alias.family is not None and alias.family not in served:
            yield FieldProblem(
                ("models", name, "family"), False,
                f"model '{name}' needs family {alias.family}, which no backend serves "
                f"(served: {', '.join(sorted(f for f in served if f)) or 'none'})",
            )


def _check_shadowing(policy: Policy) -> Iterator[FieldProblem]:
    """A route after a catch-all, or after a route with the identical `when`, can never match."""
    earlier: list[tuple[RouteSpec, str]] = []
    for index, route in enumerate(policy.routes):
        when_key = route.when.model_dump_json(exclude_none=True) if route.when is not None else "{}"
        for previous, previous_key in earlier:
            if previous.is_catch_all():
                reason = "matches every request (it has no when)"
            elif previous_key == when_key:
                reason = "has the identical when"
            else:
                continue
            yield FieldProblem(
                ("routes", index), False,
                f"route '{route.name}' is unreachable: earlier route '{previous.name}' {reason}",
            )
            break
        earlier.append((route, when_key))


def _check_deployments(policy: Policy) -> Iterator[FieldProblem]:
    """A backend's `cost.gpus` and its `deployment.gpus` describe the same GPUs, so they must agree."""
    for name, spec in policy.backends.items():
        deployment, cost = spec.deployment, spec.cost
        if deployment is not None and cost is not None and cost.gpus is not None and cost.gpus != deployment.gpus:
            yield FieldProblem(
                ("backends", name, "deployment", "gpus"), False,
                f"backend '{name}': deployment.gpus {deployment.gpus} but cost.gpus {cost.gpus}; they count the same GPUs",
            )
