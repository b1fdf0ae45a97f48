"""Token usage as every provider reports it, reduced to one shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Usage", "parse_usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one upstream response; `completion_tokens` includes reasoning tokens."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False  # counted by the gateway (a stream abandoned before the upstream's usage), not reported

    @property
    def uncached_prompt_tokens(self) -> int:
        return max(self.prompt_tokens - self.cached_tokens, 0)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def parse_usage(raw: Any) -> Usage | None:
    """Normalise an OpenAI-style `usage` object.

    Cached prompt tokens: DeepSeek's `prompt_cache_hit_tokens`, else OpenAI's
    `prompt_tokens_details.cached_tokens`. Reasoning tokens: `completion_tokens_details.reasoning_tokens`,
    which every OpenAI-compatible provider already includes in `completion_tokens` (billed as output).
    """
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    prompt_details = raw.get("prompt_tokens_details")
    cached = _int(raw.get("prompt_cache_hit_tokens"))
    if not cached and isinstance(prompt_details, dict):
        cached = _int(prompt_details.get("cached_tokens"))
    completion_details = raw.get("completion_tokens_details")
    reasoning = 0
    if isinstance(completion_details, dict):
        reasoning = _int(completion_details.get("reasoning_tokens"))
    return Usage(
        prompt_tokens=prompt,
        cached_tokens=min(cached, prompt),
        completion_tokens=completion,
        reasoning_tokens=min(reasoning, completion),
    )
