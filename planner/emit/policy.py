"""`planner emit policy`: the routing policy of a planned mix: N self-hosted replicas, then managed APIs.

Each replica is one `vllm`/`sglang` backend with its `deployment:` (so `gateway simulate` times it
as the planner did) and its GPU cost. Replicas cost nothing per token, so the route's
`prefer: cost` fills them first, in order; a replica holding `max_in_flight` requests (its SLO batch
from `planner plan --trace`, plus the queue allowed) is saturated and the request goes on to the
next, and past the last replica to the cheapest managed provider. The text is written here and
checked by the gateway's loader in the tests (the planner never imports the policies package).
"""

from __future__ import annotations

from planner.deployment import Deployment
from planner.errors import PlannerInputError
from planner.prices import ManagedPrice

__all__ = ["render_policy", "MANAGED_BACKEND_TYPES", "LOCAL_PORT_BASE"]

MANAGED_BACKEND_TYPES: tuple[str, ...] = ("novita", "fireworks", "deepseek")
"""Providers the gateway has a backend type for (policies.schema BackendType)."""
LOCAL_PORT_BASE = 8000  # `vllm serve` listens on 8000; replica i defaults to 8000 + i - 1


def _env_name(provider: str) -> str:
    return provider.upper().replace("-", "_") + "_API_KEY"


def render_policy(*, family: str, model_hf_id: str, deployment: Deployment, engine: str, replicas: int,
                  max_num_seqs: int | None, max_waiting: int, managed: list[ManagedPrice], gpu_hourly_usd: float,
                  ttft_p95_ms: float | None = None, explicit_prices: bool = False) -> str:
    """The policy YAML for `replicas` x `deployment` spilling to `managed` (cheapest first).

    With `explicit_prices` (prices from a `--prices` file) each managed backend gets a `price:`; otherwise
    the gateway prices it from litellm's cost map, as the planner did.
    """
    if engine not in ("vllm", "sglang"):
        raise PlannerInputError(f"--engine {engine}: a policy backend is vllm or sglang")
    unknown = [price.provider for price in managed if price.provider not in MANAGED_BACKEND_TYPES]
    if unknown:
        raise PlannerInputError(f"--managed {unknown[0]}: the gateway has backend types {', '.join(MANAGED_BACKEND_TYPES)}")
    d = deployment
    layout = (f"tp: {d.tp}, pp: {d.pp}, dp: {d.dp}, ep: {d.ep}" + (", dp_attention: true" if d.dp_attention else ""))
    seqs = f", max_num_seqs: {max_num_seqs}" if max_num_seqs else ""
    if max_num_seqs:  # its SLO batch open, or a queue forming: spill (planner.simulate.mix's rule)
        limits = f"{{max_in_flight: {max_num_seqs * d.dp}, max_waiting: {max_waiting}, max_kv_usage: 0.95}}"
    else:
        limits = f"{{max_waiting: {max_waiting}, max_kv_usage: 0.95}}"
    names = [f"local-{i}" for i in range(1, replicas + 1)]
    lines = [
        f"# Written by `planner emit policy`: {replicas} replica(s) of {d.gpus} x {d.gpu} {d.layout} {d.weights_dtype} "
        f"({engine}) serving {family}, spilling to {', '.join(p.provider for p in managed) or 'nothing'}.",
        "# Replicas cost nothing per token, so prefer: cost fills them first, in order; a replica at its",
        "# max_in_flight or max_waiting is saturated and the request moves on, past the last one to the managed API.",
        "# Set each replica's address (LOCAL_1_BASE_URL, ...) and each provider's key before serving;",
        "# `gateway simulate --config THIS --trace FILE` replays traffic through it first.",
        "version: 1",
        "",
        "backends:",
    ]
    for index, name in enumerate(names, start=1):
        lines += [
            f"  {name}:",
            f"    type: {engine}",
            f"    base_url: ${{LOCAL_{index}_BASE_URL:-http://127.0.0.1:{LOCAL_PORT_BASE + index - 1}/v1}}",
            f"    model: {model_hf_id}",
            f"    family: {family}",
            f"    deployment: {{model: {family}, gpu: {d.gpu}, gpus: {d.gpus}, {layout}, engine: {engine}, "
            f"weights: {d.weights_dtype}, kv_dtype: {d.kv_dtype}, max_model_len: {d.max_model_len}{seqs}}}",
            f"    cost: {{gpu_hourly_usd: {gpu_hourly_usd:g}, gpus: {d.gpus}}}",
            f"    limits: {limits}",
        ]
    for price in managed:
        lines += [
            f"  {price.provider}:",
            f"    type: {price.provider}",
            f"    api_key: ${{{_env_name(price.provider)}}}",
            f"    model: {price.model_id}" + ("" if explicit_prices else f"   # priced from litellm's cost map: "
                                             f"{price.input_usd_per_mtok:g} in / {price.output_usd_per_mtok:g} out USD/Mtok"),
            f"    family: {family}",
        ]
        if explicit_prices:
            cached = ("" if price.cached_input_usd_per_mtok is None
                      else f", cached_input_usd_per_mtok: {price.cached_input_usd_per_mtok:g}")
            lines.append(f"    price: {{input_usd_per_mtok: {price.input_usd_per_mtok:g}{cached}, "
                         f"output_usd_per_mtok: {price.output_usd_per_mtok:g}}}   # {price.source}")
    lines += [
        "",
        "models:",
        "  auto: {}",
        f"  {family}: {{family: {family}}}",
        "",
        "routes:",
        "  - name: default",
        f"    use: [{', '.join(names + [p.provider for p in managed])}]",
        "    prefer: cost",
    ]
    if ttft_p95_ms is not None:
        lines.append(f"    slo: {{ttft_p95_ms: {ttft_p95_ms:g}}}")
    lines += [
        "",
        "fallback:",
        "  on: [connect_error, timeout, rate_limited, server_error]",
        f"  max_attempts: {min(3, len(names) + len(managed))}",
    ]
    return "\n".join(lines) + "\n"
