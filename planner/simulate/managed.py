"""Managed providers in a simulation: fixed time to first token and per output token, no queue.

A managed API is a large shared fleet; from one customer's side its latency does not depend on
that customer's load, so each request takes `ttft_s + (output_tokens - 1) x tpot_s`. A policy's
`simulate: {ttft_ms, tpot_ms}` sets the figures per backend; otherwise these defaults apply.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManagedLatency", "DEFAULT_LATENCY", "FALLBACK_LATENCY", "default_latency"]


@dataclass(frozen=True, slots=True)
class ManagedLatency:
    """Seconds to the first token and per further token, and where the figures come from."""

    ttft_s: float
    tpot_s: float
    source: str

    def durations_s(self, output_tokens: int) -> tuple[float, float]:
        """(first token after, last token after) the request is sent."""
        return self.ttft_s, self.ttft_s + max(output_tokens - 1, 0) * self.tpot_s


FALLBACK_LATENCY = ManagedLatency(
    1.0, 0.030,
    "assumption: 1 s to the first token and 30 ms per token (33 tok/s), inside the range public dashboards "
    "show for DeepSeek-V3.x APIs (DeepSeek's own: 2.2 s and 37 tok/s; the fastest listed: under 1 s and "
    "230 tok/s, digitalocean.com/blog/how-we-built-fastest-deepseek-minimax-qwen-on-blackwell-ultra, "
    "read 2026-12-04); set simulate: {ttft_ms, tpot_ms} per backend for your own figures",
)

DEFAULT_LATENCY: dict[str, ManagedLatency] = {
    "deepseek": ManagedLatency(
        2.164, 0.027,
        "zenmux.ai/deepseek/deepseek-chat (DeepSeek API, V3.2): average first-token latency 2,164 ms and "
        "throughput 36.95 tok/s (27 ms a token) over its recent activity, read 2026-12-04",
    ),
}
"""Per backend type; types not listed use FALLBACK_LATENCY."""


def default_latency(provider_type: str) -> ManagedLatency:
    """The documented default for a managed backend type."""
    return DEFAULT_LATENCY.get(provider_type, FALLBACK_LATENCY)
