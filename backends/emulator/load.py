"""The emulator's load: a bounded number of running requests, the rest queued; and the counters
behind the vLLM/SGLang `/metrics` page."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["LoadTracker", "TTFT_BUCKETS_S"]

# vLLM's bucket bounds for vllm:time_to_first_token_seconds (vLLM 0.32.0's /metrics, checked by the
# real-engine contract tests; SGLang uses a similar series).
TTFT_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
    160.0, 640.0, 2560.0,
)


class LoadTracker:
    """Running/waiting counts against `max_concurrency`, token counters and a TTFT histogram."""

    def __init__(self, max_concurrency: int | None) -> None:
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.running = 0
        self.waiting = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.requests_total = 0
        self.ttft_bucket_counts = [0] * len(TTFT_BUCKETS_S)
        self.ttft_count = 0
        self.ttft_sum_s = 0.0
        self.live: Callable[[], Any] | None = None  # planner-timed: a source of (waiting, running, kv_usage)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one running slot for the body of the block, queueing when all are taken."""
        if self._slots is not None:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            if self._slots is not None:
                self._slots.release()

    @property
    def kv_usage(self) -> float:
        """Fraction of the KV cache in use, modelled as running requests over capacity."""
        capacity = self.max_concurrency or 256
        return min(1.0, self.running / capacity)

    def observe_ttft(self, seconds: float) -> None:
        self.ttft_count += 1
        self.ttft_sum_s += seconds
        index = bisect.bisect_left(TTFT_BUCKETS_S, seconds)
        if index < len(self.ttft_bucket_counts):
            self.ttft_bucket_counts[index] += 1

    def observe_tokens(self, prompt_tokens: int, generation_tokens: int) -> None:
        self.requests_total += 1
        self.prompt_tokens_total += prompt_tokens
        self.generation_tokens_total += generation_tokens

    def render_metrics(self, prefix: str, model: str) -> str:
        """Prometheus text format with the engine's own metric names (vllm: or sglang:)."""
        label = f'model_name="{model}"' + (',engine="0"' if prefix == "vllm" else "")
        running, waiting, kv_usage = self.running, self.waiting, self.kv_usage
        if self.live is not None:
            figures = self.live()
            running, waiting, kv_usage = figures.running, figures.waiting, figures.kv_usage
        if prefix == "vllm":
            gauges = (
                ("vllm:num_requests_running", "Number of requests in model execution batches.", running),
                ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting),
                ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_usage),
            )
        else:
            gauges = (
                ("sglang:num_running_reqs", "The number of running requests.", running),
                ("sglang:num_queue_reqs", "The number of requests in the waiting queue.", waiting),
                ("sglang:token_usage", "The token usage.", kv_usage),
            )
        lines: list[str] = []
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{{{label}}} {float(value)}"]
        counters = (
            (f"{prefix}:prompt_tokens_total", "Number of prefill tokens processed.", self.prompt_tokens_total),
            (f"{prefix}:generation_tokens_total", "Number of generation tokens processed.", self.generation_tokens_total),
        )
        for name, help_text, value in counters:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name}{{{label}}} {float(value)}"]
        hist = f"{prefix}:time_to_first_token_seconds"
        lines += [f"# HELP {hist} Histogram of time to first token in seconds.", f"# TYPE {hist} histogram"]
        cumulative = 0
        for bound, count in zip(TTFT_BUCKETS_S, self.ttft_bucket_counts):
            cumulative += count
            lines.append(f'{hist}_bucket{{{label},le="{bound}"}} {float(cumulative)}')
        lines.append(f'{hist}_bucket{{{label},le="+Inf"}} {float(self.ttft_count)}')
        lines.append(f"{hist}_count{{{label}}} {float(self.ttft_count)}")
        lines.append(f"{hist}_sum{{{label}}} {self.ttft_sum_s}")
        return "\n".join(lines) + "\n"
