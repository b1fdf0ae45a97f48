"""Any other OpenAI-compatible endpoint (OpenAI itself, OpenRouter, a private proxy)."""

from __future__ import annotations

from backends.openai_compat import OpenAICompatBackend

__all__ = ["OpenAIBackend"]


class OpenAIBackend(OpenAICompatBackend):
    """Generic OpenAI API: bearer key, `reasoning_effort` when thinking is asked for."""
