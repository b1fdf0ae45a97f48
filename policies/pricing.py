"""Each backend's per-token price and the expected USD cost of one request on it."""

from __future__ import annotations

from dataclasses import dataclass

from policies.price_lookup import cost_map_key, litellm_price
from policies.schema import BackendSpec

__all__ = ["BackendPrice", "resolve_price", "missing_price_detail"]

TOKENS_PER_MTOK = 1_000_000


@dataclass(frozen=True, slots=True)
class BackendPrice:
    """USD per million tokens, with where the figures came from."""

    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    output_usd_per_mtok: float
    source: str

    def cost_usd(self, input_tokens: float, output_tokens: float, cached_input_tokens: float = 0.0) -> float:
        """USD for one request.

        cost = ((input - cached) x input_price + cached x cached_price + output x output_price) / 1e6,
        the per-token billing every provider in litellm's cost map uses; `input_tokens` counts
        the cached ones too, and the cached price falls back to the input price when unknown.
        """
        cached = min(max(cached_input_tokens, 0.0), input_tokens)
        cached_price = self.cached_input_usd_per_mtok
        if cached_price is None:
            cached_price = self.input_usd_per_mtok
        return (
            (input_tokens - cached) * self.input_usd_per_mtok
            + cached * cached_price
            + output_tokens * self.output_usd_per_mtok
        ) / TOKENS_PER_MTOK


def resolve_price(spec: BackendSpec) -> BackendPrice | None:
    """The price used for `spec`: marginal cost when self-hosted, else the policy's, else litellm's."""
    if spec.self_hosted:
        marginal = spec.cost.marginal_usd_per_mtok if spec.cost else 0.0
        return BackendPrice(marginal, marginal, marginal, "self-hosted marginal cost")
    if spec.price is not None:
        return BackendPrice(
            spec.price.input_usd_per_mtok,
            spec.price.cached_input_usd_per_mtok,
            spec.price.output_usd_per_mtok,
            "policy price",
        )
    listed = litellm_price(spec.provider_type, spec.model)
    if listed is None:
        return None
    return BackendPrice(
        listed.input_usd_per_mtok,
        listed.cached_input_usd_per_mtok,
        listed.output_usd_per_mtok,
        listed.source,
    )


def missing_price_detail(spec: BackendSpec) -> str:
    """Why `spec` has no price, for error messages."""
    key = cost_map_key(spec.provider_type, spec.model)
    if key is None:
        return f"type {spec.provider_type} has no litellm cost-map entry"
    return f"litellm's cost map has no priced entry '{key}'"
