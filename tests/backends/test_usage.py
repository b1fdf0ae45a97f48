"""Every provider's usage object reduces to one shape."""

from __future__ import annotations

import pytest

from backends.usage import Usage, parse_usage


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "prompt_tokens_details": None},
            Usage(100, 0, 20, 0), id="vllm-without-details",
        ),
        pytest.param(
            {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 64},
             "completion_tokens_details": {"reasoning_tokens": 12}},
            Usage(100, 64, 20, 12), id="openai-cached-and-reasoning",
        ),
        pytest.param(
            {"prompt_tokens": 200, "completion_tokens": 50, "prompt_cache_hit_tokens": 128, "prompt_cache_miss_tokens": 72,
             "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 30}},
            Usage(200, 128, 50, 30), id="deepseek-cache-fields-win",
        ),
        pytest.param({"prompt_tokens": 10, "prompt_cache_hit_tokens": 99}, Usage(10, 10, 0, 0), id="cached-capped-at-prompt"),
        pytest.param({"prompt_tokens": "many", "completion_tokens": -3}, Usage(0, 0, 0, 0), id="garbage-counts-as-zero"),
    ],
)
def test_usage_is_normalised(raw, expected):
    assert parse_usage(raw) == expected


def test_missing_usage_is_none():
    assert parse_usage(None) is None


def test_uncached_prompt_tokens():
    assert Usage(prompt_tokens=200, cached_tokens=128).uncached_prompt_tokens == 72
