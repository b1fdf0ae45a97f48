"""DeepSeek's published day of inference (2025-03-01) against the planner's pool estimates.

DeepSeek's day-6 overview (deepseek-ai/open-infra-index, 202502OpenSourceWeek) gives a day of
traffic (608B input tokens, 56.3% of them prefix-cache hits, 168B output tokens), the fleet that
served it (226.75 H800 nodes on average, 278 at peak, at an assumed USD 2 per GPU-hour: USD 87,072 a
day), its units (prefill 4 nodes EP32, decode 18 nodes EP144) and the theoretical revenue at R1's
prices (USD 562,027). This script asks `planner.estimate.run_estimate` (what `planner estimate
--role prefill|decode` prints) for each unit at full load, sizes the fleet the day's average rate
needs, and prices it. The published fleet is a day's average with a diurnal curve and nodes lent to
research off-peak, so the planner's full-load fleet should come out smaller; the ratio is the
average utilisation it implies.

    python benchmarks/planner_day6.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.estimate import EstimateRequest, run_estimate  # noqa: E402

# Published figures (the deepseek-official-inference-system entry of ../shared/data/public-measurements.yaml).
INPUT_TOKENS = 608e9
CACHE_HIT_RATE = 0.563
OUTPUT_TOKENS = 168e9
AVG_NODES = 226.75
PEAK_NODES = 278
GPU_HOUR_USD = 2.0
DAILY_COST_USD = 87_072
REVENUE_USD = 562_027
KV_LENGTH = 4989  # average KV length per output token; prompts assumed this long
DECODE_USERS = 12_686  # 1,850 tok/s per GPU / 21 tok/s per user x 144 GPUs
R1_PRICES = {"hit": 0.14, "miss": 0.55, "output": 2.19}  # USD per million tokens, R1 at the time

COMMON = dict(model="deepseek-v3", gpu="h800", tp=1, dp_attention=True, redundant_experts=32, eplb=True, tbo=True,
              engine="deepseek", weights="fp8", kv_dtype="bf16", gpu_hourly_usd=GPU_HOUR_USD)


def main() -> int:
    decode = run_estimate(EstimateRequest(**COMMON, gpus=144, dp=144, ep=144, role="decode", concurrency=DECODE_USERS,
                                          input_len=KV_LENGTH, output_len=2))
    prefill = run_estimate(EstimateRequest(**COMMON, gpus=32, dp=32, ep=32, role="prefill", input_len=KV_LENGTH,
                                           output_len=1, cache_hit_rate=CACHE_HIT_RATE))
    d_gpu = decode.performance.output_tokens_per_s_per_gpu
    p_gpu = prefill.performance.prefill_tokens_per_s_per_gpu  # computed (cache-missed) prompt tokens
    day = 86_400
    computed = INPUT_TOKENS * (1 - CACHE_HIT_RATE)
    decode_gpus = OUTPUT_TOKENS / day / d_gpu
    prefill_gpus = computed / day / p_gpu
    decode_units, prefill_units = math.ceil(decode_gpus / 144), math.ceil(prefill_gpus / 32)
    nodes = (decode_gpus + prefill_gpus) / 8
    cost = nodes * 8 * GPU_HOUR_USD * 24
    unit_cost = (decode_units * 144 + prefill_units * 32) * GPU_HOUR_USD * 24
    revenue = (INPUT_TOKENS * CACHE_HIT_RATE * R1_PRICES["hit"] + computed * R1_PRICES["miss"]
               + OUTPUT_TOKENS * R1_PRICES["output"]) / 1e6

    print("DeepSeek-V3/R1 on H800, DeepSeek's engine profile, 2025-03-01 traffic: "
          f"{INPUT_TOKENS / 1e9:.0f}B input ({CACHE_HIT_RATE:.1%} cached), {OUTPUT_TOKENS / 1e9:.0f}B output")
    print(f"  decode unit  144 GPUs EP144: planner {d_gpu:,.0f} output tok/s per GPU at {decode.performance.tpot_ms:.1f} ms TPOT"
          f" (published 1,850 at 20-22 tok/s per user)")
    print(f"  prefill unit  32 GPUs EP32:  planner {p_gpu:,.0f} computed prompt tok/s per GPU"
          f" (published 73.7k per node incl. cache hits = {73_700 * (1 - CACHE_HIT_RATE) / 8:,.0f} computed per GPU)")
    print(f"  fleet at full load for the day's average rate: {decode_gpus:,.0f} decode + {prefill_gpus:,.0f} prefill GPUs"
          f" = {nodes:,.1f} nodes (published average {AVG_NODES}, peak {PEAK_NODES})")
    print(f"  implied average utilisation of the published fleet: {nodes / AVG_NODES:.0%}")
    print(f"  in whole units: {decode_units} decode x 144 + {prefill_units} prefill x 32 GPUs = "
          f"{(decode_units * 144 + prefill_units * 32) / 8:.0f} nodes, USD {unit_cost:,.0f}/day")
    print(f"  daily cost at USD {GPU_HOUR_USD:g}/GPU-hour: planner USD {cost:,.0f} (published USD {DAILY_COST_USD:,}, "
          f"{(cost / DAILY_COST_USD - 1) * 100:+.1f}%)")
    print(f"  theoretical revenue at R1 prices: USD {revenue:,.0f} (published USD {REVENUE_USD:,});"
          f" cost-profit margin planner {(revenue / cost - 1):.0%}, published 545%")
    print(f"  cost per million tokens served: USD {cost / ((INPUT_TOKENS + OUTPUT_TOKENS) / 1e6):.3f} all tokens, "
          f"USD {cost / (OUTPUT_TOKENS / 1e6):.3f} per output token if output carried the whole cost")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
