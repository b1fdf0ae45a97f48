"""One usage-ledger record per upstream attempt, and its flat row form (SQLite columns, stream entries)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gateway.costing import NANO_USD_PER_USD, AttemptCost, to_nano_usd
from gateway.outcomes import AttemptOutcome

__all__ = ["ADDED_COLUMN_DEFAULTS", "COLUMNS", "Row", "UsageRecord", "RecordId", "row_from_outcome"]

COLUMNS: tuple[str, ...] = (
    "request_id", "attempt", "started_at", "key_name", "route", "backend", "upstream_model", "family",
    "fallback_chain", "streamed", "ok", "status", "error_kind", "prompt_tokens", "cached_tokens",
    "completion_tokens", "reasoning_tokens", "cost_nano_usd", "self_hosted_cost_nano_usd", "ttft_ms", "latency_ms",
    "usage_estimated", "protocol", "thinking", "thinking_source",
)
"""Row layout; money is stored in whole nano-USD so that every sum is exact. New columns go at the end."""

ADDED_COLUMN_DEFAULTS: dict[str, Any] = {"usage_estimated": 0, "protocol": None, "thinking": None, "thinking_source": None}
"""Columns added since the first release and the value a row written before them has."""

Row = tuple[Any, ...]
CHAIN_SEPARATOR = ","  # backend names never contain one (policies.schema.Name)
ID_SEPARATOR = ":"  # record id = request id + ":" + attempt; split at the last one


class RecordId(tuple[str, int]):
    """A record's key, (request_id, attempt); as text `req_...:2`, the id `/admin/usage` pages by."""

    __slots__ = ()

    def __new__(cls, request_id: str, attempt: int) -> RecordId:
        return super().__new__(cls, (request_id, attempt))

    @property
    def request_id(self) -> str:
        return self[0]

    @property
    def attempt(self) -> int:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}{ID_SEPARATOR}{self[1]}"

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """`req_abc:2` -> RecordId("req_abc", 2); ValueError for anything else."""
        request_id, separator, attempt = text.rpartition(ID_SEPARATOR)
        if not separator or not request_id or not attempt.isdigit():
            raise ValueError(f"{text!r} is not a usage record id (REQUEST_ID:ATTEMPT)")
        return cls(request_id, int(attempt))


def row_from_outcome(outcome: AttemptOutcome, cost: AttemptCost, family: str | None) -> Row:
    """The ledger row of one attempt; plain values only, cheap enough for the request path."""
    usage = outcome.usage
    tried = outcome.tried or (outcome.backend,)
    return (
        outcome.request_id, outcome.attempt, outcome.started_at, outcome.key_name, outcome.route, outcome.backend,
        outcome.upstream_model, family, CHAIN_SEPARATOR.join(tried), int(outcome.streamed), int(outcome.ok),
        outcome.status, outcome.error_kind,
        usage.prompt_tokens if usage else 0, usage.cached_tokens if usage else 0,
        usage.completion_tokens if usage else 0, usage.reasoning_tokens if usage else 0,
        to_nano_usd(cost.managed_usd), to_nano_usd(cost.self_hosted_usd), outcome.ttft_ms, outcome.latency_ms,
        int(usage.estimated) if usage else 0, outcome.protocol,
        None if outcome.thinking is None else int(outcome.thinking), outcome.thinking_source,
    )


def _usd(nano_usd: int | None) -> float | None:
    return None if nano_usd is None else nano_usd / NANO_USD_PER_USD


class UsageRecord(BaseModel):
    """What one upstream attempt used and cost: the ledger's unit, as `/admin/usage` returns it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    attempt: int = Field(description="1-based position in the request's fallback chain.")
    time: datetime = Field(description="When the attempt started (UTC).")
    key_name: str | None
    route: str | None
    backend: str
    upstream_model: str
    family: str | None
    fallback_chain: list[str] = Field(description="Backends tried for this request up to and including this one.")
    streamed: bool
    ok: bool
    status: int
    error_kind: str | None
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int = Field(description="Includes the reasoning tokens.")
    reasoning_tokens: int
    cost_nano_usd: int | None = Field(description="Per-token bill in nano-USD (managed price or self-hosted marginal).")
    self_hosted_cost_nano_usd: int | None = Field(description="Amortised GPU share in nano-USD; self-hosted only.")
    ttft_ms: float | None
    latency_ms: float
    usage_estimated: bool = Field(
        False, description="Token counts estimated by the gateway (a stream the client left before the upstream's usage arrived).")
    protocol: str | None = Field(
        None, description="The client's API: openai-chat, openai-completions, anthropic-messages or openai-responses "
                          "(None for records written before it was recorded).")
    thinking: bool | None = Field(None, description="Thinking mode on (true), off (false) or not said (null) for this request.")
    thinking_source: Literal["header", "body", "model", "detected"] | None = Field(
        None, description="Which signal decided `thinking`: the header, a body parameter, the model alias, or the detector.")

    @computed_field(description="The record's id (REQUEST_ID:ATTEMPT), the cursor `/admin/usage` pages by.")  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        return str(RecordId(self.request_id, self.attempt))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_usd(self) -> float | None:
        return _usd(self.cost_nano_usd)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def self_hosted_cost_usd(self) -> float | None:
        return _usd(self.self_hosted_cost_nano_usd)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> UsageRecord:
        values = dict(zip(COLUMNS, row, strict=True))
        values["time"] = datetime.fromtimestamp(values.pop("started_at"), UTC)
        values["fallback_chain"] = values["fallback_chain"].split(CHAIN_SEPARATOR)
        values["streamed"], values["ok"] = bool(values["streamed"]), bool(values["ok"])
        values["usage_estimated"] = bool(values["usage_estimated"])
        values["thinking"] = None if values["thinking"] is None else bool(values["thinking"])
        return cls.model_validate(values)

    def to_row(self) -> Row:
        values = self.model_dump()
        values["started_at"] = self.time.timestamp()
        values["fallback_chain"] = CHAIN_SEPARATOR.join(self.fallback_chain)
        values["streamed"], values["ok"] = int(self.streamed), int(self.ok)
        values["usage_estimated"] = int(self.usage_estimated)
        values["thinking"] = None if self.thinking is None else int(self.thinking)
        return tuple(values[column] for column in COLUMNS)
