"""`prefer` strategies: a name -> class registry; YAML values equal the registry keys."""

from __future__ import annotations

from policies.errors import UnknownStrategyError
from policies.strategies.base import Strategy
from policies.strategies.cost import CostStrategy
from policies.strategies.latency import LatencyStrategy
from policies.strategies.least_loaded import LeastLoadedStrategy
from policies.strategies.order import OrderStrategy
from policies.strategies.weighted import WeightedStrategy

__all__ = ["STRATEGIES", "STRATEGY_NAMES", "Strategy", "get_strategy"]

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (OrderStrategy, CostStrategy, LatencyStrategy, WeightedStrategy, LeastLoadedStrategy)
}
STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """A new instance of the strategy registered as `name`."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise UnknownStrategyError(
            f"unknown prefer strategy '{name}' (valid: {', '.join(STRATEGY_NAMES)})"
        ) from None
