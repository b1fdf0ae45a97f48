"""Spend report: the ledger summed by day, backend, key, route, client protocol or thinking, with
the "savings" against the cheapest managed provider for the same tokens.

`thinking` groups by which signal decided the thinking need and what it decided:
`detected/on`, `detected/off`, `body/on`, `model/off`, ... and `(none)` for requests nothing
decided, so an operator sees what automatic thinking costs.

Money is summed in whole nano-USD, so every group's figures and the total add up exactly to the
per-attempt records. Each family's baseline provider is the one of `planner.prices.managed_prices`
that would have billed that family's whole traffic least; tokens of a family no managed provider
prices are counted at what they actually cost (no savings claimed on them).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gateway.costing import NANO_USD_PER_USD
from gateway.ledger.sqlite_sink import SqliteLedger
from planner.prices import ManagedPrice, managed_prices

__all__ = ["SPEND_GROUPS", "SpendBy", "BaselineChoice", "SpendRow", "SpendReport", "spend_report"]

SpendBy = Literal["day", "backend", "key", "route", "protocol", "thinking"]
SPEND_GROUPS: tuple[str, ...] = SpendBy.__args__
NANO_USD_PER_TOKEN_PER_USD_PER_MTOK = NANO_USD_PER_USD / 1_000_000  # 1 USD/Mtok = 1,000 nano-USD a token

_GROUP_SQL: dict[str, str] = {
    "day": "date(started_at, 'unixepoch')",
    "backend": "backend",
    "key": "COALESCE(key_name, '(no key)')",
    "route": "COALESCE(route, '(no route)')",
    "protocol": "COALESCE(protocol, '(not recorded)')",
    "thinking": "CASE WHEN thinking_source IS NULL THEN '(none)' ELSE thinking_source || '/' ||"
                " CASE thinking WHEN 1 THEN 'on' WHEN 0 THEN 'off' ELSE '?' END END",
}


def _usd(nano_usd: int) -> float:
    return nano_usd / NANO_USD_PER_USD


class SpendRow(BaseModel):
    """Totals of one group (or of everything)."""

    model_config = ConfigDict(extra="forbid")

    group: str
    requests: int
    attempts: int
    failed_attempts: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_nano_usd: int
    self_hosted_cost_nano_usd: int
    unpriced_attempts: int
    estimated_attempts: int = Field(description="Attempts billed from the gateway's token estimate (usage_estimated).")
    baseline_nano_usd: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_usd(self) -> float:
        return _usd(self.cost_nano_usd)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def self_hosted_cost_usd(self) -> float:
        return _usd(self.self_hosted_cost_nano_usd)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_usd(self) -> float:
        return _usd(self.cost_nano_usd + self.self_hosted_cost_nano_usd)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def baseline_usd(self) -> float:
        return _usd(self.baseline_nano_usd)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def savings_usd(self) -> float:
        return _usd(self.baseline_nano_usd - self.cost_nano_usd - self.self_hosted_cost_nano_usd)


class BaselineChoice(BaseModel):
    """The managed provider a family's traffic is compared against."""

    model_config = ConfigDict(extra="forbid")

    family: str
    provider: str
    model_id: str
    input_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    output_usd_per_mtok: float
    source: str


class SpendReport(BaseModel):
    """`gateway spend --json` and `GET /admin/spend`."""

    model_config = ConfigDict(extra="forbid")

    by: SpendBy
    rows: list[SpendRow]
    total: SpendRow
    baselines: list[BaselineChoice]


def _bill_nano_usd(price: ManagedPrice, uncached: int, cached: int, completion: int) -> int:
    """What `price` bills for these tokens: uncached x input + cached x cache-hit + completion x output."""
    cached_price = price.cached_input_usd_per_mtok
    if cached_price is None:
        cached_price = price.input_usd_per_mtok
    usd_per_mtok_tokens = uncached * price.input_usd_per_mtok + cached * cached_price + completion * price.output_usd_per_mtok
    return round(usd_per_mtok_tokens * NANO_USD_PER_TOKEN_PER_USD_PER_MTOK)


def _cheapest(family: str, tokens: tuple[int, int, int], prices_path: str | None) -> ManagedPrice | None:
    candidates = managed_prices(family, prices_path)
    return min(candidates, key=lambda price: _bill_nano_usd(price, *tokens), default=None)


def spend_report(ledger: SqliteLedger, by: SpendBy, *, since_s: float | None = None, until_s: float | None = None,
                 prices_path: str | None = None) -> SpendReport:
    """Sum the ledger by `by` over [since_s, until_s)."""
    where, params = "WHERE started_at >= ? AND started_at < ?", [since_s or 0.0, until_s or float("inf")]
    group = _GROUP_SQL[by]
    per_family = ledger.query(
        f"SELECT {group}, family, COUNT(*), SUM(1 - ok), SUM(prompt_tokens), SUM(cached_tokens), SUM(completion_tokens),"
        " SUM(reasoning_tokens), COALESCE(SUM(cost_nano_usd), 0), COALESCE(SUM(self_hosted_cost_nano_usd), 0),"
        " SUM(cost_nano_usd IS NULL AND prompt_tokens + completion_tokens > 0), SUM(usage_estimated)"
        f" FROM usage {where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    )
    requests = dict(ledger.query(f"SELECT {group}, COUNT(DISTINCT request_id) FROM usage {where} GROUP BY 1", params))
    family_tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _, family, _, _, prompt, cached, completion, *_ in per_family:
        if family is not None:
            totals = family_tokens[family]
            totals[0] += prompt - cached
            totals[1] += cached
            totals[2] += completion
    cheapest = {family: _cheapest(family, tuple(tokens), prices_path) for family, tokens in family_tokens.items()}
    sums: dict[str, dict[str, int]] = {}
    for name, family, attempts, failed, prompt, cached, completion, reasoning, cost, hosted, unpriced, estimated in per_family:
        price = cheapest.get(family) if family is not None else None
        baseline = _bill_nano_usd(price, prompt - cached, cached, completion) if price else cost + hosted
        row = sums.setdefault(name, defaultdict(int))
        for field, value in (("attempts", attempts), ("failed_attempts", failed), ("prompt_tokens", prompt),
                             ("cached_tokens", cached), ("completion_tokens", completion),
                             ("reasoning_tokens", reasoning), ("cost_nano_usd", cost),
                             ("self_hosted_cost_nano_usd", hosted), ("unpriced_attempts", unpriced),
                             ("estimated_attempts", estimated), ("baseline_nano_usd", baseline)):
            row[field] += value
    rows = [SpendRow(group=str(name), requests=requests.get(name, 0), **values) for name, values in sums.items()]
    total_requests = ledger.query(f"SELECT COUNT(DISTINCT request_id) FROM usage {where}", params)[0][0]
    total = SpendRow(
        group="total", requests=total_requests,
        **{field: sum(getattr(row, field) for row in rows) for field in SpendRow.model_fields if field not in ("group", "requests")},
    )
    baselines = [
        BaselineChoice(family=family, provider=price.provider, model_id=price.model_id,
                       input_usd_per_mtok=price.input_usd_per_mtok, cached_input_usd_per_mtok=price.cached_input_usd_per_mtok,
                       output_usd_per_mtok=price.output_usd_per_mtok, source=price.source)
        for family, price in sorted(cheapest.items()) if price is not None
    ]
    return SpendReport(by=by, rows=rows, total=total, baselines=baselines)
