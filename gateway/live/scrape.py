"""Read queue depth, running requests and KV-cache usage from vLLM's and SGLang's /metrics.

Metric names: vLLM `vllm:num_requests_waiting`, `vllm:num_requests_running`,
`vllm:kv_cache_usage_perc` (V1 engine; `vllm:gpu_cache_usage_perc` before it) from vLLM's
metrics docs; SGLang `sglang:num_queue_reqs`, `sglang:num_running_reqs`, `sglang:token_usage`
from sglang/srt/metrics/collector.py. Several series of one gauge (data-parallel engines, one per
rank) are summed for counts, and the highest KV usage is kept: one full engine is saturation.
A failed scrape clears the figures (unknown, not stale) so routing does not act on old load.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from gateway.live.endpoints import metrics_url
from gateway.live.observed import ObservedFigures
from gateway.live.prometheus_text import read_samples
from policies.schema import BackendSpec

__all__ = ["LoadFigures", "ENGINE_METRICS", "parse_load", "scrape_backends"]

log = logging.getLogger("switchyard.live.scrape")


@dataclass(frozen=True, slots=True)
class EngineMetricNames:
    """The gauges one engine publishes, first name preferred."""

    waiting: tuple[str, ...]
    running: tuple[str, ...]
    kv_usage: tuple[str, ...]


ENGINE_METRICS: dict[str, EngineMetricNames] = {
    "vllm": EngineMetricNames(
        ("vllm:num_requests_waiting",), ("vllm:num_requests_running",),
        ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    ),
    "sglang": EngineMetricNames(("sglang:num_queue_reqs",), ("sglang:num_running_reqs",), ("sglang:token_usage",)),
}


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """An engine's load as its /metrics reports it; None where the page lacks the gauge."""

    waiting: int | None
    running: int | None
    kv_usage: float | None


def _first(samples: dict[str, list[float]], names: tuple[str, ...]) -> list[float] | None:
    for name in names:
        if samples.get(name):
            return samples[name]
    return None


def parse_load(text: str, engine: str) -> LoadFigures:
    """Load figures from a /metrics page of `engine` (vllm or sglang)."""
    names = ENGINE_METRICS[engine]
    samples = read_samples(text, {*names.waiting, *names.running, *names.kv_usage})
    waiting, running, kv = _first(samples, names.waiting), _first(samples, names.running), _first(samples, names.kv_usage)
    return LoadFigures(
        waiting=None if waiting is None else round(sum(waiting)),
        running=None if running is None else round(sum(running)),
        kv_usage=None if kv is None else max(kv),
    )


async def _scrape(client: httpx.AsyncClient, spec: BackendSpec, timeout_s: float) -> LoadFigures | str:
    url = metrics_url(spec)
    assert url is not None
    try:
        response = await client.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return parse_load(response.text, spec.provider_type)


async def scrape_backends(
    client: httpx.AsyncClient, backends: Iterable[tuple[str, BackendSpec]], figures: ObservedFigures, *, timeout_s: float
) -> None:
    """Scrape every vLLM/SGLang backend at once and publish what each reports."""
    named = [(name, spec) for name, spec in backends if metrics_url(spec) is not None]
    results = await asyncio.gather(*(_scrape(client, spec, timeout_s) for _, spec in named))
    for (name, _), result in zip(named, results):
        observed = figures.of(name)
        observed.scraped_at = time.time()
        if isinstance(result, str):
            if observed.scrape_error is None:
                log.warning("scraping /metrics of backend %s failed: %s", name, result)
            observed.scrape_error = result
            observed.waiting = observed.running = observed.kv_usage = None
        else:
            observed.scrape_error = None
            observed.waiting, observed.running, observed.kv_usage = result.waiting, result.running, result.kv_usage
        figures.publish(name)
