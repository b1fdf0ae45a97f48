"""A frozen snapshot of what the gateway knows about each backend at decision time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from policies.latency_posterior import LogLatencyStats

__all__ = ["BackendState", "StateSnapshot", "UNKNOWN_STATE"]


@dataclass(frozen=True, slots=True)
class BackendState:
    """One backend's live figures; None means not observed yet (treated as unknown, not zero).

    `waiting`, `running` and `kv_usage` come from the backend's /metrics (vLLM/SGLang);
    `in_flight` counts the gateway's own open requests to it; latency percentiles, `error_rate`,
    `avg_output_tokens` and `cache_hit_ratio` (cached share of prompt tokens) come from the
    gateway's sliding window of observations. `ttft_stats` and `tpot_stats` are the same
    observations as time-decayed sufficient statistics of log latency (`policies.latency_posterior`),
    the posterior `prefer: latency` samples from; TTFT there includes the first-token part of
    non-streamed answers (`gateway.live.latency_stats.first_token_part_ms`).
    """

    healthy: bool = True
    circuit_open: bool = False
    in_flight: int = 0
    waiting: int | None = None
    running: int | None = None
    kv_usage: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    tpot_p50_ms: float | None = None
    tpot_p95_ms: float | None = None
    error_rate: float | None = None
    avg_output_tokens: float | None = None
    cache_hit_ratio: float | None = None
    ttft_stats: LogLatencyStats | None = None
    tpot_stats: LogLatencyStats | None = None


UNKNOWN_STATE = BackendState()
"""The state assumed for a backend missing from the snapshot: healthy, idle, nothing observed."""

StateSnapshot = Mapping[str, BackendState]
"""Backend name -> its state; backends missing from it get `UNKNOWN_STATE`."""
