"""Prefill/decode disaggregation: separate prefill and decode pools, and the KV transfer between them.

A disaggregated deployment (DistServe, Zhong et al. OSDI 2024; DeepSeek's day-6 system; SGLang
`--disaggregation-mode prefill|decode`, vLLM KV connectors) runs prompts on a prefill pool and hands
each request's KV cache to a decode pool:
- the prefill pool runs prefill-only steps of `batch_tokens` prompt tokens per DP rank, so its
  capacity is batch_tokens / step time per rank (planner.step_model);
- the KV cache of one request is kv_bytes_per_token x prompt bytes (planner.kv_cache), sent from the
  prefill GPUs' NICs (or NVLink inside a node; planner.comms.kv_transfer_s), spread over the
  prefill rank's TP GPUs;
- TTFT = queueing for a prefill slot (M/D/1 on the pool's utilisation) + the prefill step + the KV
  transfer + one decode step; decode runs without prefill interference (planner.batching,
  `disaggregated_decode`).
A pool count ratio xPyD says how many prefill (x) and decode (y) instances share the traffic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from planner.comms import kv_transfer_s
from planner.deployment import Deployment
from planner.engine import EngineProfile
from planner.gpu_spec import GpuSpec
from planner.kv_cache import kv_bytes_per_token
from planner.model_spec import ModelSpec
from planner.step_model import prefill_step_s

__all__ = ["prefill_rank_tokens_per_s", "kv_transfer_per_request_s", "estimate_disaggregated", "PoolReport",
           "DisaggregatedEstimate", "PREFILL_BATCH_TOKENS"]

PREFILL_BATCH_TOKENS = 16384
"""Prompt tokens per GPU per prefill step of a fully loaded dedicated prefill pool: DeepSeek's published
prefill profile and LMSYS's prefill table both use 16,384 (lm-sys blog 2025-05-05 large-scale EP)."""


def prefill_rank_tokens_per_s(spec: ModelSpec, gpu: GpuSpec, dep: Deployment, engine: EngineProfile,
                              prompt_tokens: int, cached_tokens: int = 0,
                              batch_tokens: int | None = None) -> tuple[float, float]:
    """(computed prompt tokens per second, step seconds) of one DP rank of a prefill pool at full load.

    A step takes `batch_tokens` (default: the engine's chunk size, its default prefill batch) computed
    tokens of prompts of `prompt_tokens`, the first `cached_tokens` of each served from the prefix cache.
    """
    compute = max(1, prompt_tokens - cached_tokens)
    tokens = float(batch_tokens or engine.chunk_tokens(gpu.memory_bytes))
    step = prefill_step_s(spec, gpu, dep, engine, tokens, cached_tokens + compute / 2)
    return tokens / step, step


def kv_transfer_per_request_s(spec: ModelSpec, prefill_gpu: GpuSpec, prefill: Deployment, kv_dtype: str,
                              prompt_tokens: int, same_node: bool) -> float:
    """Seconds to move one request's KV cache from its prefill rank to its decode rank."""
    kv = kv_bytes_per_token(spec, kv_dtype) * prompt_tokens
    return kv_transfer_s(kv / max(1, prefill.tp), prefill_gpu, same_node)


class PoolReport(BaseModel):
    """One pool of a disaggregated deployment: its deployment, how many instances, and its load."""

    model_config = ConfigDict(frozen=True)

    role: Literal["prefill", "decode"]
    deployment: Deployment
    instances: int
    gpus: int
    utilization: float
    """Share of the pool's capacity the traffic uses (prefill: prompt tokens; decode: its sequences)."""
    prefill_tokens_per_s: float = 0.0
    """Prompt tokens per second the pool computes at full load (prefill pools)."""
    running_batch_per_dp_rank: float = 0.0
    max_batch_per_dp_rank: int = 0
    step_ms: float


class DisaggregatedEstimate(BaseModel):
    """The `disaggregation.*` keys of the JSON contract: both pools, the KV hand-off and the end-to-end figures."""

    model_config = ConfigDict(frozen=True)

    ratio: str
    """xPyD: prefill instances and decode instances."""
    prefill: PoolReport
    decode: PoolReport
    kv_bytes_per_request: int
    kv_transfer_ms: float
    ttft_ms: float
    tpot_ms: float
    requests_per_s: float
    max_requests_per_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_gpu: float
    gpus: int
    bottleneck: Literal["prefill", "decode"]
    overloaded: bool
    note: str | None


def estimate_disaggregated(
    spec: ModelSpec, prefill_gpu: GpuSpec, prefill: Deployment, prefill_instances: int,
    decode_gpu: GpuSpec, decode: Deployment, decode_instances: int, engine: EngineProfile,
    input_len: int, output_len: int, kv_tokens_per_decode_rank: int, *,
    concurrency: int | None = None, rps: float | None = None, mtp: int = 0, cached_input_tokens: int = 0,
    same_node: bool = False,
) -> DisaggregatedEstimate:
    """End-to-end steady state of `prefill_instances` prefill pools feeding `decode_instances` decode pools.

    Decode: planner.batching's steady state without prefill interference, per decode DP rank. Prefill:
    the pool's full-load rate; a prompt waits for the step under way (M/D/1 on the pool's utilisation),
    runs its own prefill step, and its KV cache crosses to the decode pool before its first decode step.
    With a concurrency the closed loop sets the rate (Little's law over TTFT + (out - 1) TPOT); with a
    rate the decode pool's batch is the one that serves it. Capacity is the smaller of the two pools'.
    """
    from planner.batching import RankModel, Workload, max_batch_per_rank

    prompt = max(1, input_len - cached_input_tokens)
    rate_rank, batch_step = prefill_rank_tokens_per_s(spec, prefill_gpu, prefill, engine, input_len, cached_input_tokens)
    prefill_capacity = rate_rank * prefill.dp * prefill_instances
    alone = prefill_step_s(spec, prefill_gpu, prefill, engine, prompt, cached_input_tokens + prompt / 2)
    transfer = kv_transfer_per_request_s(spec, prefill_gpu, prefill, decode.kv_dtype, input_len, same_node)
    load = Workload(input_len=input_len, output_len=output_len, mtp=mtp, disaggregated_decode=True)
    rank = RankModel(spec, decode_gpu, decode, engine, load)
    max_batch = max(1, max_batch_per_rank(decode_gpu, engine, kv_tokens_per_decode_rank, load))
    decode_ranks = decode.dp * decode_instances
    max_rate = min(rank.at_batch(max_batch).requests_per_s * decode_ranks, prefill_capacity / prompt)
    bottleneck = "prefill" if prefill_capacity / prompt < rank.at_batch(max_batch).requests_per_s * decode_ranks else "decode"

    def ttft_at(rate: float) -> float:
        u = min(rate * prompt / prefill_capacity, 0.98)
        return engine.request_overhead_s + alone + u * batch_step / (2 * (1 - u)) + transfer

    note = None
    overloaded = False
    if rps is not None:
        rate = rps
        if rps >= max_rate:
            overloaded, rate = True, max_rate
            note = f"offered load {rps:g} req/s exceeds capacity {max_rate:.3g} req/s ({bottleneck} pool)"
        point = rank.batch_for_rate(min(rate, max_rate) / decode_ranks, max_batch)
    else:
        per_rank = min((concurrency or max_batch * decode_ranks) / decode_ranks, float(max_batch))
        point = rank.at_batch(per_rank)
        rate = point.batch * decode_ranks / (ttft_at(point.requests_per_s * decode_ranks) + max(output_len - 1, 0) * point.tpot_s)
        if rate > max_rate:
            overloaded, rate = True, max_rate
            note = f"{round(per_rank * decode_ranks)} requests in flight exceed what the {bottleneck} pool serves; they queue"
    ttft = ttft_at(rate) + point.step_s
    gpus = prefill.gpus * prefill_instances + decode.gpus * decode_instances
    output_tps = rate * output_len
    pools = (
        PoolReport(role="prefill", deployment=prefill, instances=prefill_instances, gpus=prefill.gpus * prefill_instances,
                   utilization=round(min(1.0, rate * prompt / prefill_capacity), 4),
                   prefill_tokens_per_s=round(prefill_capacity, 1), step_ms=round(batch_step * 1e3, 3)),
        PoolReport(role="decode", deployment=decode, instances=decode_instances, gpus=decode.gpus * decode_instances,
                   utilization=round(min(1.0, point.batch / max_batch), 4), running_batch_per_dp_rank=round(point.batch, 3),
                   max_batch_per_dp_rank=max_batch, step_ms=round(point.step_s * 1e3, 3)),
    )
    return DisaggregatedEstimate(
        ratio=f"{prefill_instances}P{decode_instances}D", prefill=pools[0], decode=pools[1],
        kv_bytes_per_request=kv_bytes_per_token(spec, decode.kv_dtype) * input_len,
        kv_transfer_ms=round(transfer * 1e3, 3), ttft_ms=round(ttft * 1e3, 3), tpot_ms=round(point.tpot_s * 1e3, 3),
        requests_per_s=round(rate, 4), max_requests_per_s=round(max_rate, 4), output_tokens_per_s=round(output_tps, 2),
        output_tokens_per_s_per_gpu=round(output_tps / gpus, 3), gpus=gpus, bottleneck=bottleneck,
        overloaded=overloaded, note=note,
    )
