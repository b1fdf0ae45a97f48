"""One request of a trace, and a trace: requests in arrival order, times in seconds from its start.

The JSONL format (one object per line; the contract of `--trace FILE`):

| key | type | meaning |
|---|---|---|
| `t` | number, required | seconds from the start of the trace when the request arrives |
| `model` | string | the model name the client sent (a policy's `models` alias); default: the simulator's `--model` |
| `input_tokens` | integer | prompt tokens; required unless `body` is given |
| `output_tokens` | integer, required | tokens the answer had (reasoning included) |
| `cached_tokens` | integer | prompt tokens served from a prefix cache (billed at the cached price) |
| `max_tokens` | integer | the client's `max_tokens`, if it set one |
| `stream` | boolean | the client streamed the answer |
| `thinking` | boolean | the request asked for thinking mode (true) or for no thinking (false) |
| `tools` | boolean | the request carried tools |
| `key` | string | the client key's name (its tags come from the policy's `keys`) |
| `headers` | object | request headers (`x-switchyard-thinking`, those routes test) |
| `body` | object | a whole chat-completions body; routing reads it as the gateway does |

A record with a `body` and no `input_tokens` gets a rough count: characters of message text / 4
(OpenAI's rule of thumb for English, also the emulator's), at least 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass as pydantic_dataclass

from planner.errors import PlannerInputError

__all__ = ["TraceRecord", "Trace", "TraceError", "estimate_body_tokens"]


class TraceError(PlannerInputError):
    """A trace that cannot be read: the file, the line, and why."""


def estimate_body_tokens(body: dict[str, Any]) -> int:
    """Characters of the body's message text (or prompt) / 4, at least 1."""
    chars = 0
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, str):
                chars += len(content)
            elif isinstance(content, list):
                chars += sum(len(str(part.get("text") or "")) for part in content if isinstance(part, dict))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        chars += len(prompt)
    return max(1, math.ceil(chars / 4))


@pydantic_dataclass(frozen=True, slots=True, config=ConfigDict(extra="forbid"))
class TraceRecord:
    """One request of a trace (see the module docstring for each key)."""

    t: float = Field(ge=0)
    output_tokens: int = Field(ge=0)
    input_tokens: int | None = Field(None, ge=0)
    model: str | None = None
    cached_tokens: int = Field(0, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    stream: bool = False
    thinking: bool | None = None
    tools: bool = False
    key: str | None = None
    headers: dict[str, str] | None = None
    body: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _tokens_known(self) -> TraceRecord:
        if self.input_tokens is None:
            if self.body is None:
                raise ValueError("give input_tokens, or a body to count them from")
            object.__setattr__(self, "input_tokens", estimate_body_tokens(self.body))
        if self.cached_tokens > self.input_tokens:  # type: ignore[operator]
            raise ValueError(f"cached_tokens {self.cached_tokens} > input_tokens {self.input_tokens}")
        return self

    @property
    def prompt_tokens(self) -> int:
        """`input_tokens`, always set after validation."""
        return self.input_tokens or 0

    def to_json_dict(self) -> dict[str, Any]:
        """The record as written to JSONL: `t`, the tokens, and every other key that is set."""
        out: dict[str, Any] = {"t": round(self.t, 6), "input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
        for name in ("model", "max_tokens", "thinking", "key", "headers", "body"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("cached_tokens", "stream", "tools"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Trace:
    """Requests sorted by arrival time, where they came from, and what was left out while reading."""

    records: list[TraceRecord]
    source: str
    skipped: int = 0
    skipped_reason: str | None = None

    @property
    def span_s(self) -> float:
        """Seconds from the trace's start (t = 0) to its last arrival."""
        return self.records[-1].t if self.records else 0.0

    def __len__(self) -> int:
        return len(self.records)

    def scaled(self, time_scale: float) -> Trace:
        """The same requests with every arrival time multiplied by `time_scale`."""
        from dataclasses import replace

        return Trace([replace(r, t=r.t * time_scale) for r in self.records], self.source, self.skipped, self.skipped_reason)
