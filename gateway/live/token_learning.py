"""Feed the prompt-token estimator from upstream usage, so its characters-per-token ratio converges."""

from __future__ import annotations

from gateway.outcomes import AttemptOutcome
from policies.token_estimate import shared_estimator

__all__ = ["learn_prompt_tokens", "MIN_CHARS_TO_LEARN"]

MIN_CHARS_TO_LEARN = 1000
"""Shorter prompts are skipped: their usage.prompt_tokens is dominated by chat-template tokens
(~4 per message), which `observe` would misread as a low characters-per-token ratio."""


def learn_prompt_tokens(outcome: AttemptOutcome) -> None:
    """Outcome listener: two float operations per successful attempt, nothing when usage is absent."""
    usage = outcome.usage
    if outcome.ok and usage is not None and outcome.input_chars >= MIN_CHARS_TO_LEARN:
        shared_estimator.observe(outcome.input_chars, usage.prompt_tokens)
