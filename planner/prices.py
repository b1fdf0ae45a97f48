"""Managed-API prices for DeepSeek models, from litellm's bundled cost map, overridable in YAML.

Prices come from `model_prices_and_context_window_backup.json`, the cost map that ships inside
the installed litellm package. It is located with `importlib.util.find_spec` and read as a JSON
file: litellm itself is never imported (that takes seconds) and nothing is fetched, which is
litellm's own `LITELLM_LOCAL_MODEL_COST_MAP=True` behaviour. The map is read once per process.

Which model id each provider uses for a planner family is the sourced table
`planner/data/prices/provider_models.json`. A YAML file (`overrides_path`) can replace or add
rows, each with its own `source`:

    prices:
      - provider: fireworks
        family: deepseek-v3.2
        input_usd_per_mtok: 0.56
        cached_input_usd_per_mtok: 0.28
        output_usd_per_mtok: 1.68
        source: "fireworks.ai/pricing, checked 2026-11-29"
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import PlannerInputError

__all__ = [
    "COST_MAP_FILENAME",
    "DAYS_PER_MONTH",
    "ManagedPrice",
    "PriceOverrideSpec",
    "PriceOverridesFile",
    "cost_map_path",
    "daily_cost_usd",
    "litellm_version",
    "managed_families",
    "managed_prices",
    "monthly_cost_usd",
    "price_for_key",
]

COST_MAP_FILENAME = "model_prices_and_context_window_backup.json"
TOKENS_PER_MTOK = 1_000_000
HOURS_PER_MONTH = 730
"""The month the planner bills in: 730 hours (8,760 h a year / 12), as for GPU rental."""
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

_PROVIDER_MODELS_PATH = Path(__file__).parent / "data" / "prices" / "provider_models.json"
# litellm's provider names -> ours (the gateway's backend types)
_PROVIDER_NAMES = {"fireworks_ai": "fireworks"}


class ManagedPrice(BaseModel):
    """What one provider charges for one model, in USD per million tokens, and where that says so."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    family: str | None
    model_id: str
    litellm_key: str | None
    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    output_usd_per_mtok: float
    context_window: int | None
    deprecation_date: str | None = None
    source: str


class PriceOverrideSpec(BaseModel):
    """One user-written price row; replaces the cost-map row of the same provider and family."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1)
    family: str = Field(min_length=1)
    model_id: str | None = None
    input_usd_per_mtok: float = Field(ge=0)
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    context_window: int | None = Field(default=None, gt=0)
    source: str = Field(min_length=1, description="where this price comes from, and when")


class PriceOverridesFile(BaseModel):
    """A prices YAML file: a list of override rows."""

    model_config = ConfigDict(extra="forbid")

    prices: list[PriceOverrideSpec]


@functools.cache
def cost_map_path() -> Path | None:
    """Where the installed litellm keeps its bundled cost map, found without importing litellm."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / COST_MAP_FILENAME
        if path.is_file():
            return path
    return None


@functools.cache
def litellm_version() -> str:
    """The installed litellm's version, read from its dist-info folder name (no import)."""
    path = cost_map_path()
    if path is None:
        return "unknown"
    for dist_info in sorted(path.parent.parent.glob("litellm-*.dist-info")):
        return dist_info.name.removeprefix("litellm-").removesuffix(".dist-info")
    return "unknown"


_loaded_stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the cost map `_cost_map` holds


def _cost_map_stamp() -> tuple[int, int] | None:
    path = cost_map_path()
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.cache
def _cost_map() -> dict[str, Any]:
    global _loaded_stamp
    path = cost_map_path()
    if path is None:
        return {}
    _loaded_stamp = _cost_map_stamp()
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def reload_cost_map_if_changed() -> bool:
    """Drop the cached cost map when its file changed on disk since it was read (litellm upgraded in
    place, or the file replaced); the next lookup reads it again. True when it changed. A stat call:
    cheap enough for a periodic job, never on the request path."""
    if _loaded_stamp is None or _cost_map_stamp() == _loaded_stamp:
        return False
    _cost_map.cache_clear()
    return True


@functools.cache
def _provider_models() -> dict[str, list[dict[str, str]]]:
    with _PROVIDER_MODELS_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)["families"]


def managed_families() -> list[str]:
    """The planner families that at least one managed provider in the table offers."""
    return list(_provider_models())


def _per_mtok(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(float(value) * TOKENS_PER_MTOK, 9)


def _cost_map_source(key: str, entry: dict[str, Any]) -> str:
    source = f"litellm {litellm_version()} {COST_MAP_FILENAME} key {key}"
    upstream = entry.get("source")
    return f"{source} (upstream: {upstream})" if isinstance(upstream, str) else source


def price_for_key(litellm_key: str) -> ManagedPrice | None:
    """The cost-map price under `litellm_key` (e.g. "novita/deepseek/deepseek-v3.2").

    None when the map has no entry with both an input and an output price. Used by the gateway's
    cost strategy for backends whose price the policy does not set.
    """
    entry = _cost_map().get(litellm_key)
    if not isinstance(entry, dict):
        return None
    input_price = _per_mtok(entry.get("input_cost_per_token"))
    output_price = _per_mtok(entry.get("output_cost_per_token"))
    if input_price is None or output_price is None:
        return None
    provider = str(entry.get("litellm_provider") or litellm_key.split("/", 1)[0])
    prefix = f"{provider}/"
    max_input = entry.get("max_input_tokens")
    deprecation = entry.get("deprecation_date")
    return ManagedPrice(
        provider=_PROVIDER_NAMES.get(provider, provider),
        family=None,
        model_id=litellm_key.removeprefix(prefix),
        litellm_key=litellm_key,
        input_usd_per_mtok=input_price,
        cached_input_usd_per_mtok=_per_mtok(entry.get("cache_read_input_token_cost")),
        output_usd_per_mtok=output_price,
        context_window=max_input if isinstance(max_input, int) else None,
        deprecation_date=deprecation if isinstance(deprecation, str) else None,
        source=_cost_map_source(litellm_key, entry),
    )


def _table_prices(family: str) -> list[ManagedPrice]:
    prices = []
    for row in _provider_models().get(family, []):
        price = price_for_key(row["litellm_key"])
        if price is not None:
            prices.append(price.model_copy(update={"family": family, "model_id": row["model_id"]}))
    return prices


def managed_prices(family: str, overrides_path: str | None = None) -> list[ManagedPrice]:
    """Every managed provider's price for planner family `family`, overrides applied.

    Rows come from the provider table and litellm's cost map; a row of the overrides file with
    the same provider and family replaces the map's row, and any other row is added. An unknown
    family gives an empty list (no provider offers it), not an error.
    """
    prices = _table_prices(family)
    if overrides_path is None:
        if cost_map_path() is None and family in _provider_models():
            raise PlannerInputError(
                "litellm's cost map was not found (is litellm installed?); "
                "give managed prices in a YAML file instead"
            )
        return prices
    by_provider = {price.provider: price for price in prices}
    for spec in load_overrides(overrides_path):
        if spec.family != family:
            continue
        by_provider[spec.provider] = _override_price(spec, by_provider.get(spec.provider), overrides_path)
    return list(by_provider.values())


def _override_price(spec: PriceOverrideSpec, base: ManagedPrice | None, path: str) -> ManagedPrice:
    model_id = spec.model_id or (base.model_id if base else None)
    if model_id is None:
        raise PlannerInputError(
            f"{path}: provider {spec.provider!r} has no {spec.family} row in the cost map, "
            "so its override needs a model_id"
        )
    context_window = spec.context_window or (base.context_window if base else None)
    return ManagedPrice(
        provider=spec.provider,
        family=spec.family,
        model_id=model_id,
        litellm_key=base.litellm_key if base and model_id == base.model_id else None,
        input_usd_per_mtok=spec.input_usd_per_mtok,
        cached_input_usd_per_mtok=spec.cached_input_usd_per_mtok,
        output_usd_per_mtok=spec.output_usd_per_mtok,
        context_window=context_window,
        deprecation_date=None,
        source=f"{path}: {spec.source}",
    )


@functools.cache
def load_overrides(path: str) -> tuple[PriceOverrideSpec, ...]:
    """Read and validate a prices YAML file; errors name the file, line and field."""
    import yaml  # only when an override is given: the default path reads JSON only

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlannerInputError(f"{path}: cannot read prices file: {exc.strerror or exc}") from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise PlannerInputError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    try:
        return tuple(PriceOverridesFile.model_validate(data).prices)
    except ValidationError as exc:
        # A misspelt key also leaves its real key missing: report the misspelling.
        error = sorted(exc.errors(), key=lambda item: item["type"] != "extra_forbidden")[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        line = _yaml_line(root, error["loc"])
        raise PlannerInputError(f"{path}:{line}: {field}: {error['msg']}") from exc


def _yaml_line(node: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the YAML node at `loc` (or of its deepest existing parent)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(part, str) and node.id == "mapping":
            child = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(part, int) and node.id == "sequence" and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def daily_cost_usd(
    price: ManagedPrice,
    input_tokens_per_day: float,
    output_tokens_per_day: float,
    cache_hit_rate: float = 0.0,
) -> float:
    """USD per day for a traffic volume on one provider.

    cost = input x ((1 - h) x input_price + h x cached_price) + output x output_price, prices
    per 1M tokens; `h` is the share of input tokens that hit the provider's prompt cache, billed
    at its cache-hit price where it has one (DeepSeek, Novita) and at the full price otherwise.
    """
    if input_tokens_per_day < 0 or output_tokens_per_day < 0:
        raise PlannerInputError("token volumes must not be negative")
    if not 0.0 <= cache_hit_rate <= 1.0:
        raise PlannerInputError(f"--cache-hit-rate must be between 0 and 1, got {cache_hit_rate}")
    cached_price = price.cached_input_usd_per_mtok
    if cached_price is None:
        cached_price = price.input_usd_per_mtok
    input_usd_per_mtok = (1.0 - cache_hit_rate) * price.input_usd_per_mtok + cache_hit_rate * cached_price
    return (
        input_tokens_per_day * input_usd_per_mtok + output_tokens_per_day * price.output_usd_per_mtok
    ) / TOKENS_PER_MTOK


def monthly_cost_usd(
    price: ManagedPrice,
    input_tokens_per_day: float,
    output_tokens_per_day: float,
    cache_hit_rate: float = 0.0,
) -> float:
    """USD per 730-hour month: `daily_cost_usd` x 730 / 24."""
    return daily_cost_usd(price, input_tokens_per_day, output_tokens_per_day, cache_hit_rate) * DAYS_PER_MONTH
