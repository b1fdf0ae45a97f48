"""Which entry of litellm's cost map prices a backend: backend type + model id -> cost-map key.

The map itself is read by `planner.prices.price_for_key` (litellm's bundled JSON, read as a
file, never `import litellm`); this module only knows each provider's key prefix there.
"""

from __future__ import annotations

from planner.prices import ManagedPrice, price_for_key

__all__ = ["cost_map_key", "litellm_price"]

# backend type (or emulator profile) -> the provider prefix of litellm's cost-map keys
_KEY_PREFIX: dict[str, str] = {
    "novita": "novita/",
    "fireworks": "fireworks_ai/",
    "deepseek": "deepseek/",
    "openai": "",
    "litellm": "",
}


def cost_map_key(backend_type: str, model: str) -> str | None:
    """The cost-map key for `model` served by `backend_type`; None for self-hosted types."""
    prefix = _KEY_PREFIX.get(backend_type)
    if prefix is None:
        return None
    return model if model.startswith(prefix) else prefix + model


def litellm_price(backend_type: str, model: str) -> ManagedPrice | None:
    """The cost-map price of `model` on `backend_type`, or None when the map has no priced entry."""
    key = cost_map_key(backend_type, model)
    return price_for_key(key) if key is not None else None
