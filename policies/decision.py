"""What `decide` returns: the matched route, the chain to try, and every candidate's verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from policies.affinity import AffinityVerdict

__all__ = ["CandidateVerdict", "Decision", "CandidateReport", "DecisionReport", "AffinityReport"]


@dataclass(frozen=True, slots=True)
class CandidateVerdict:
    """One backend of the route: kept (in the chain) or dropped, and why."""

    backend: str
    kept: bool
    reason: str
    expected_cost_usd: float | None
    latency_ms: float | None = None  # prefer: latency: the posterior's expected time of this request
    sampled_latency_ms: float | None = None  # ...and this decision's Thompson draw
    exploration: bool = False  # ranked first although another candidate's expected time is lower


@dataclass(frozen=True, slots=True)
class Decision:
    """An ordered fallback chain for one request, with the reasons behind it."""

    route: str | None
    chain: list[str]
    candidates: list[CandidateVerdict]
    thinking: bool | None
    strategy: str = "order"
    input_tokens: int = 0
    expected_output_tokens: int = 0
    panic: bool = False  # every candidate left has an open circuit: dispatch tries them anyway
    thinking_source: str | None = None  # header | body | model | detected (policies.thinking_need)
    thinking_score: float | None = None  # the detector's score, when it decided
    exploration: bool = False  # the first backend is an exploration pick of prefer: latency
    affinity: AffinityVerdict | None = None  # the route's `affinity:` and whether its remembered backend went first


class CandidateReport(BaseModel):
    """JSON shape of one candidate in `/v1/route/explain` and `gateway explain`."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    kept: bool
    reason: str
    expected_cost_usd: float | None
    latency_ms: float | None = Field(
        None, description="prefer: latency only: expected time of this request on it (ms): TTFT, plus the "
        "later tokens at its TPOT for non-streamed or long answers; the posterior's figure, not the draw.")
    sampled_latency_ms: float | None = Field(
        None, description="prefer: latency only: this decision's Thompson draw of that time (ms); ranked on.")
    exploration: bool = Field(
        False, description="Ranked first by its draw although another candidate's expected time is lower.")


class AffinityReport(BaseModel):
    """JSON shape of a route's affinity in `/v1/route/explain` and `gateway explain`."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="The key kind: prefix, user or header:<name>.")
    remembered: str | None = Field(description="The backend that served this key last; null when none is remembered.")
    honoured: bool = Field(description="Whether the remembered backend went first.")
    reason: str = Field(description="Why it was (or was not) honoured.")


class DecisionReport(BaseModel):
    """JSON shape of a decision in `/v1/route/explain` and `gateway explain`."""

    model_config = ConfigDict(extra="forbid")

    route: str | None
    strategy: str
    chain: list[str]
    thinking: bool | None
    thinking_source: Literal["header", "body", "model", "detected"] | None = Field(
        None, description="Which signal decided `thinking`; null when none did.")
    thinking_score: float | None = Field(None, description="The detector's score in [0, 1], when it decided.")
    input_tokens: int
    expected_output_tokens: int
    exploration: bool = Field(
        False, description="The chain's first backend is an exploration pick (prefer: latency tries a backend "
        "whose expected time is not the lowest, in proportion to the chance it is in fact the fastest).")
    candidates: list[CandidateReport]
    affinity: AffinityReport | None = Field(None, description="The route's affinity; null when it has none.")

    @classmethod
    def from_decision(cls, decision: Decision) -> DecisionReport:
        return cls(
            route=decision.route,
            strategy=decision.strategy,
            chain=list(decision.chain),
            thinking=decision.thinking,
            thinking_source=decision.thinking_source,
            thinking_score=decision.thinking_score,
            input_tokens=decision.input_tokens,
            expected_output_tokens=decision.expected_output_tokens,
            exploration=decision.exploration,
            candidates=[
                CandidateReport(
                    backend=verdict.backend,
                    kept=verdict.kept,
                    reason=verdict.reason,
                    expected_cost_usd=verdict.expected_cost_usd,
                    latency_ms=_rounded(verdict.latency_ms),
                    sampled_latency_ms=_rounded(verdict.sampled_latency_ms),
                    exploration=verdict.exploration,
                )
                for verdict in decision.candidates
            ],
            affinity=None if decision.affinity is None else AffinityReport(
                key=decision.affinity.kind, remembered=decision.affinity.remembered,
                honoured=decision.affinity.honoured, reason=decision.affinity.reason,
            ),
        )


def _rounded(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 3)
