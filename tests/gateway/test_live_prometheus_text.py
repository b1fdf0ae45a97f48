"""Reading gauges off Prometheus text pages, and vLLM's / SGLang's load figures from them."""

from __future__ import annotations

import math

import pytest

from gateway.live.prometheus_text import read_samples
from gateway.live.scrape import LoadFigures, parse_load

VLLM_PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="deepseek-ai/DeepSeek-V3.2"} 3.0
vllm:num_requests_running{engine="1",model_name="deepseek-ai/DeepSeek-V3.2"} 5.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="deepseek-ai/DeepSeek-V3.2"} 7.0
vllm:num_requests_waiting{engine="1",model_name="deepseek-ai/DeepSeek-V3.2"} 10.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="deepseek-ai/DeepSeek-V3.2"} 0.42
vllm:kv_cache_usage_perc{engine="1",model_name="deepseek-ai/DeepSeek-V3.2"} 0.93
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="deepseek-ai/DeepSeek-V3.2"} 12.0
"""

SGLANG_PAGE = """\
# HELP sglang:token_usage The token usage
# TYPE sglang:token_usage gauge
sglang:token_usage{model_name="deepseek-ai/DeepSeek-V3.2"} 0.28
sglang:num_running_reqs{model_name="deepseek-ai/DeepSeek-V3.2"} 12.0
sglang:num_queue_reqs{model_name="deepseek-ai/DeepSeek-V3.2"} 3.0
"""


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("a 1", {"a": [1.0]}),
        ("a 1.5e3 1700000000000", {"a": [1500.0]}),  # a timestamp after the value
        ('a{x="1"} 2\na{x="2"} 3', {"a": [2.0, 3.0]}),  # one entry per series
        ('a{path="/v1 {odd} \\"quoted\\""} 4', {"a": [4.0]}),  # braces, spaces and escaped quotes in a label
        ("# HELP a help text 9\n# TYPE a gauge\na 5", {"a": [5.0]}),  # comments are skipped
        ("ab 6\na 7", {"a": [7.0]}),  # a longer name sharing the prefix is another metric
        ("a_bucket{le=\"1\"} 8\na 9", {"a": [9.0]}),
        ("a not-a-number\na 10", {"a": [10.0]}),  # a malformed line is skipped, not raised on
        ('a{x="unterminated 11', {}),
        ("", {}),
        ("b 1", {}),
    ],
)
def test_read_samples_keeps_only_well_formed_lines_of_the_named_metrics(page, expected):
    assert read_samples(page, {"a"}) == expected


@pytest.mark.parametrize(("token", "check"), [("+Inf", math.isinf), ("NaN", math.isnan), ("-Inf", math.isinf)])
def test_read_samples_understands_prometheus_special_values(token, check):
    assert check(read_samples(f"a {token}", {"a"})["a"][0])


@pytest.mark.parametrize(
    ("page", "engine", "expected"),
    [
        (VLLM_PAGE, "vllm", LoadFigures(waiting=17, running=8, kv_usage=0.93)),  # counts summed, KV at its fullest engine
        (VLLM_PAGE.replace("kv_cache_usage_perc", "gpu_cache_usage_perc"), "vllm", LoadFigures(17, 8, 0.93)),  # vLLM V0 name
        (SGLANG_PAGE, "sglang", LoadFigures(waiting=3, running=12, kv_usage=0.28)),
        ("vllm:num_requests_waiting 2", "vllm", LoadFigures(waiting=2, running=None, kv_usage=None)),  # missing: unknown
        (SGLANG_PAGE, "vllm", LoadFigures(None, None, None)),
    ],
)
def test_parse_load_reads_queue_running_and_kv_usage_per_engine(page, engine, expected):
    assert parse_load(page, engine) == expected
