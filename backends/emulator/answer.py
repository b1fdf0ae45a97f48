"""The emulator's deterministic answer to one request: same seed and request, same output.

One generated piece is one output token. Text is drawn from a small vocabulary; tool-call
arguments and JSON-mode output are built from the request's JSON Schema so they always parse.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Answer", "ToolCall", "plan_answer", "prompt_text", "estimate_tokens"]

DEFAULT_OUTPUT_TOKENS = 16
MAX_OUTPUT_TOKENS = 4096
REASONING_TOKENS = 8
_WORDS = (
    "the gateway routes each request to the cheapest backend that meets its latency target while "
    "self hosted capacity fills first and managed providers absorb the overflow during peaks"
).split()
_REASONING_WORDS = "let me think about what is being asked and check each step carefully before answering".split()


def estimate_tokens(text: str) -> int:
    """About four characters per token (OpenAI's rule of thumb for English)."""
    return max(1, (len(text) + 3) // 4)


def prompt_text(body: Mapping[str, Any]) -> str:
    """All prompt text of a chat or completions body, in order."""
    if "prompt" in body:
        prompt = body["prompt"]
        return prompt if isinstance(prompt, str) else orjson.dumps(prompt).decode()
    parts: list[str] = []
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if message.get("tool_calls"):
            parts.append(orjson.dumps(message["tool_calls"]).decode())
    if body.get("tools"):
        parts.append(orjson.dumps(body["tools"]).decode())
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Answer:
    """What to send back for one choice."""

    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def completion_tokens(self) -> int:
        return len(self.reasoning) + len(self.content) + sum(_tool_tokens(c) for c in self.tool_calls)


def _tool_tokens(call: ToolCall) -> int:
    return 1 + len(_pieces(call.arguments))


def _pieces(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _value_for(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value that validates against a (simple) JSON Schema."""
    if not isinstance(schema, dict):
        return rng.choice(_WORDS)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or (kind is None and "properties" in schema):
        if depth > 4:
            return {}
        return {name: _value_for(sub, rng, depth + 1) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_value_for(schema.get("items"), rng, depth + 1)] if depth <= 4 else []
    if kind == "integer":
        return rng.randint(1, 100)
    if kind == "number":
        return round(rng.uniform(0, 100), 2)
    if kind == "boolean":
        return rng.random() < 0.5
    return rng.choice(_WORDS)


def _chosen_tool(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The tool to call, honouring `tool_choice`; None when the model should answer in text."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t["function"].get("name") == wanted), None)
    messages = body.get("messages") or ()
    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else None
    if choice == "auto" and last_role == "tool":
        return None  # the tool answered: reply in text, as a model would
    return tools[0]


def request_seed(body: Mapping[str, Any], seed: int) -> int:
    digest = hashlib.blake2b(orjson.dumps(body.get("messages") or body.get("prompt")), digest_size=8, key=seed.to_bytes(8, "little", signed=True))
    return int.from_bytes(digest.digest(), "little")


def plan_answer(body: Mapping[str, Any], *, thinking: bool, seed: int, choice_index: int = 0) -> Answer:
    """The answer for one choice of `body`."""
    rng = random.Random(request_seed(body, seed) + choice_index)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    budget = min(limit, MAX_OUTPUT_TOKENS) if isinstance(limit, int) and limit > 0 else DEFAULT_OUTPUT_TOKENS
    answer = Answer()
    if thinking:
        count = min(REASONING_TOKENS, budget // 2)
        answer.reasoning = [(" " if i else "") + _REASONING_WORDS[i % len(_REASONING_WORDS)] for i in range(count)]
        budget -= count
    tool = _chosen_tool(body)
    if tool is not None:
        function = tool["function"]
        arguments = orjson.dumps(_value_for(function.get("parameters") or {"type": "object"}, rng)).decode()
        answer.tool_calls = [ToolCall(id=f"call_{rng.getrandbits(64):016x}", name=str(function.get("name")), arguments=arguments)]
        answer.finish_reason = "tool_calls"
        return answer
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        answer.content = _pieces(orjson.dumps(_value_for(schema, rng)).decode())
    elif kind == "json_object":
        words = " ".join(rng.choice(_WORDS) for _ in range(max(1, min(budget, 12))))
        answer.content = _pieces(orjson.dumps({"answer": words}).decode())
    else:
        answer.content = [(" " if i else "") + rng.choice(_WORDS) for i in range(budget)]
        if isinstance(limit, int) and limit > 0:
            answer.finish_reason = "length"
    return answer
