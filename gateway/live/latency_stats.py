"""What `prefer: latency` learns from: each backend's latency window as time-decayed sufficient statistics.

Every successful response feeds the windows (`gateway.state.memory`): a stream its TTFT and its
TPOT ((latency - TTFT) / (tokens - 1)); a non-streamed answer, whose first token the gateway does
not see, its first-token part (`first_token_part_ms`). `decayed_stats` weighs each observation by
its age (half-life `LATENCY_HALF_LIFE_S`) and by the number of newer observations of the same
backend (`RESPONSE_DECAY` each), so the posterior follows a backend that slows down within a few
responses, and one that got no traffic for a while drifts back to the prior and is tried again.
"""

from __future__ import annotations

from policies.latency_posterior import LogLatencyStats

__all__ = ["LATENCY_HALF_LIFE_S", "RESPONSE_DECAY", "decayed_stats", "first_token_part_ms"]

LATENCY_HALF_LIFE_S = 20.0
"""An observation counts half after 20 s (and not at all after the window's 60 s)."""
RESPONSE_DECAY = 0.7
"""Each newer response of the same backend multiplies an older one's weight by 0.7: the posterior
holds about 1 / (1 - 0.7) = 3.3 responses' worth of evidence, so a change shows within a few (a
backend going from 10 to 400 ms loses the lead after 3 to 5 responses, tests/gateway/
test_latency_learning.py); 0.8 kept a slowed backend's old fast figures long enough to give it a
fifth of the traffic for 30 requests after the change."""


def decayed_stats(samples: list[tuple[float, float]], now: float) -> LogLatencyStats | None:
    """Sufficient statistics of (time, latency_ms) samples (oldest first) as seen at `now`."""
    weighted = []
    by_count = 1.0
    for at, value in reversed(samples):
        weighted.append((value, by_count * 0.5 ** (max(0.0, now - at) / LATENCY_HALF_LIFE_S)))
        by_count *= RESPONSE_DECAY
    return LogLatencyStats.of(weighted)


def first_token_part_ms(latency_ms: float, output_tokens: int, tpot_ms: float | None) -> float:
    """A non-streamed answer's latency less its later tokens at the backend's TPOT (the median its
    streams showed), never below latency / tokens (the first token, prefill included, takes at least
    an average token's time).

    With no TPOT streamed yet, latency / tokens: a lower bound of its TTFT. Counting the whole
    latency instead would put a long answer's decode time into TTFT and trip a route's TTFT SLO on
    a backend that only answers non-streamed requests (the shipped default's 2000 ms, seen in
    `gateway simulate`); the bound keeps the SLO from dropping a backend on a guess, and for answers
    of similar length it still orders backends by their latency. The first stream corrects the split.
    """
    tokens = max(output_tokens, 1)
    if tpot_ms is None:
        return latency_ms / tokens
    return max(latency_ms - (tokens - 1) * tpot_ms, latency_ms / tokens)
