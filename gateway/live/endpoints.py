"""Where to probe and scrape a backend, from its spec."""

from __future__ import annotations

from policies.schema import BackendSpec

__all__ = ["service_root", "health_url", "metrics_url", "METRICS_ENGINES"]

METRICS_ENGINES = frozenset({"vllm", "sglang"})
"""Engines whose Prometheus /metrics the gateway reads (queue, running, KV usage)."""
_HEALTH_ENDPOINT_TYPES = frozenset({"vllm", "sglang", "emulator"})  # serve GET /health at their root
_UNPROBED_TYPES = frozenset({"litellm"})  # not OpenAI-compatible: nothing uniform to ask


def service_root(base_url: str) -> str:
    """`http://host:8000/v1` -> `http://host:8000`: /health and /metrics sit beside /v1 (vLLM, SGLang)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def health_url(spec: BackendSpec) -> tuple[str, bool] | None:
    """(URL to GET, whether it needs the API key), or None when the type cannot be probed.

    vLLM, SGLang and the emulator answer GET /health; managed providers (and LM Studio) are
    asked for GET {base_url}/models, the cheapest authenticated call OpenAI-compatible APIs have.
    """
    assert spec.base_url is not None  # the schema fills a default per type
    if spec.type in _HEALTH_ENDPOINT_TYPES:
        return service_root(spec.base_url) + "/health", False
    if spec.type in _UNPROBED_TYPES:
        return None
    return spec.base_url.rstrip("/") + "/models", True


def metrics_url(spec: BackendSpec) -> str | None:
    """GET {root}/metrics for vLLM and SGLang backends (and emulators of them); None otherwise."""
    assert spec.base_url is not None
    if spec.provider_type not in METRICS_ENGINES:
        return None
    return service_root(spec.base_url) + "/metrics"
