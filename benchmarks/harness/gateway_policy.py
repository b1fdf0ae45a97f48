"""The gateway's benchmark policy: routing, accounting and metrics all on, as issue 8's targets require."""

from __future__ import annotations

import hashlib

from benchmarks.harness.processes import LOOPBACK
from benchmarks.harness.upstream import UPSTREAM_MODEL

__all__ = ["BENCH_KEY", "BENCH_RPM", "GATEWAY_MODEL", "gateway_policy_yaml"]

GATEWAY_MODEL = "deepseek-v3.2"
BENCH_KEY = "sk-bench-switchyard-" + "0" * 24  # loopback only; its digest is in the policy
BENCH_RPM = 10_000_000  # a rate limit that is checked on every request but never reached


def gateway_policy_yaml(upstream_port: int) -> str:
    """Routing, accounting and metrics all on: one priced backend, one model alias, one route matching on
    the model, fallback configured, and a client key with a daily budget and an rpm limit, so every
    request is authenticated, routed, reserved against the budget, settled, written to the ledger
    and counted in /metrics."""
    digest = hashlib.sha256(BENCH_KEY.encode()).hexdigest()
    return f"""\
version: 1
backends:
  bench-upstream:
    type: vllm
    base_url: http://{LOOPBACK}:{upstream_port}/v1
    model: {UPSTREAM_MODEL}
    family: deepseek-v3.2
    cost: {{gpu_hourly_usd: 2.5, gpus: 8, marginal_usd_per_mtok: 0.05}}
models:
  {GATEWAY_MODEL}: {{}}
routes:
  - name: default
    when: {{model: {GATEWAY_MODEL}}}
    use: [bench-upstream]
    prefer: order
fallback:
  on: [connect_error, timeout, rate_limited, server_error]
  max_attempts: 1
keys:
  - {{name: bench, sha256: "{digest}", budgets: {{daily_usd: 1000000}}, rpm: {BENCH_RPM}}}
"""
