"""Anthropic Messages API in and out: `/v1/messages` to the internal chat form, and back.

Pure functions and one small stream state machine; routing, dispatch and accounting never see
this protocol. Field and event names follow the `anthropic` Python SDK (2.10.0, types/), the
ground truth for what Claude Code and the SDK send and accept.

In: `system` (string or text blocks) becomes the first system message, without Claude Code's
per-request `x-anthropic-billing-header: ...` block (its `cch=` hash changes on every request and
would defeat the upstream's prefix cache; claude-code-router#1372, llama.cpp#20623, 2026). User
content blocks: text, image (base64 or URL, as OpenAI image parts), tool_result (a `tool` message
each, placed before the turn's other content, as DeepSeek and OpenAI require tool answers right
after the assistant's calls). Assistant blocks: text, tool_use (tool_calls), thinking (its text as
`reasoning_content`, which DeepSeek requires back on a tool continuation; redacted_thinking is
opaque and dropped). `tools`, `tool_choice` (auto/any/tool/none, `disable_parallel_tool_use`),
`stop_sequences`, `temperature`, `top_p`, `metadata.user_id`, `thinking` and `output_config`
(effort; format as a JSON-schema response_format) map to their chat equivalents. A `system` turn
inside `messages` (Claude Code 2.1 sends its environment so) stays where it is: moving it to the
front would change the prefix every turn.

Out: the chat answer as a `message` with thinking / text / tool_use blocks, or, streamed, the
exact event sequence: `message_start` (input usage as routing estimated it; the upstream's count
arrives with `message_delta`), then one open block at a time (`content_block_start`, deltas
`thinking_delta` + `signature_delta`, `text_delta`, `input_json_delta`, `content_block_stop`),
`message_delta` (stop reason, usage), `message_stop`; a mid-stream failure is an `error` event.
Stop reasons follow Anthropic's: `max_tokens` whenever the limit cut the answer (a tool call cut
short must not run; vLLM's own /v1/messages agrees), then `tool_use`, then `stop_sequence` with
the string when the upstream names the stop that matched (vLLM's `stop_reason`, SGLang's
`matched_stop`), else `end_turn`. A tool's `strict` goes on as the chat function's `strict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from backends.usage import Usage, parse_usage
from gateway.errors import GatewayError, InvalidRequestError
from gateway.protocols import chat_stream as cs

__all__ = [
    "BILLING_HEADER_PREFIX",
    "AnthropicStream",
    "error_body",
    "error_status_and_type",
    "message_from_chat",
    "to_chat",
]

BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                 "content_filter": "refusal"}
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
                 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 504: "timeout_error",
                 529: "overloaded_error"}


# --- errors -----------------------------------------------------------------------------------

def error_status_and_type(exc: GatewayError) -> tuple[int, str]:
    """Anthropic's status and error type for a gateway error: a 503 (no backend can take it) is
    Anthropic's 529 `overloaded_error`, which Claude Code retries; other 5xx are `api_error`."""
    status = 529 if exc.status == 503 else exc.status
    kind = _STATUS_TYPES.get(status)
    if kind is None:
        kind = "api_error" if status >= 500 else "invalid_request_error"
    return status, kind


def error_body(kind: str, message: str) -> bytes:
    """`{"type": "error", "error": {"type", "message"}}`."""
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


# --- request ----------------------------------------------------------------------------------

def _text_of_blocks(blocks: Any, param: str) -> str:
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        raise InvalidRequestError(f"{param}: expected a string or an array of text blocks", param=param)
    texts = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise InvalidRequestError(f"{param}.{index}: expected a text block", param=f"{param}.{index}")
        texts.append(block["text"])
    return "\n".join(texts)


def _system_text(system: Any) -> str:
    """The system prompt without Claude Code's billing-header block (or line)."""
    if isinstance(system, str):
        if system.startswith(BILLING_HEADER_PREFIX):
            system = system.partition("\n")[2]
        return system
    if isinstance(system, list):
        system = [b for b in system if not (isinstance(b, dict) and str(b.get("text", "")).startswith(BILLING_HEADER_PREFIX))]
    return _text_of_blocks(system, "system")


def _image_part(block: dict[str, Any], param: str) -> dict[str, Any]:
    source = block.get("source")
    if isinstance(source, dict):
        if source.get("type") == "base64" and isinstance(source.get("data"), str):
            media_type = source.get("media_type") or "image/png"
            return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{source['data']}"}}
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return {"type": "image_url", "image_url": {"url": source["url"]}}
    raise InvalidRequestError(f"{param}.source: expected a base64 or url image source", param=f"{param}.source")


def _tool_result_content(content: Any, param: str) -> str | list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InvalidRequestError(f"{param}.content: expected a string or an array of blocks", param=f"{param}.content")
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, f"{param}.content.{index}"))
        else:
            raise InvalidRequestError(f"{param}.content.{index}: expected a text or image block", param=f"{param}.content.{index}")
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _user_messages(content: Any, param: str) -> list[dict[str, Any]]:
    """One user turn: its tool results first (a `tool` message each), then the rest as one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise InvalidRequestError(f"{param}.content: expected a string or an array of content blocks", param=f"{param}.content")
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        at = f"{param}.content.{index}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            result = _tool_result_content(block.get("content"), at)
            if block.get("is_error") and isinstance(result, str):
                result = f"Error: {result}" if result else "Error"
            tools.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": result})
        elif kind == "document" and isinstance(block.get("source"), dict) and block["source"].get("type") == "text":
            parts.append({"type": "text", "text": str(block["source"].get("data", ""))})
        elif kind in ("thinking", "redacted_thinking"):
            continue  # only assistant turns think
        else:
            raise InvalidRequestError(f"{at}: unsupported content block type {kind!r} in a user turn", param=at)
    messages = tools
    if parts:
        text_only = all(p["type"] == "text" for p in parts)
        messages.append({"role": "user", "content": "\n".join(p["text"] for p in parts) if text_only else parts})
    return messages


def _assistant_message(content: Any, param: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        raise InvalidRequestError(f"{param}.content: expected a string or an array of content blocks", param=f"{param}.content")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") if block.get("input") is not None else {}).decode()
            calls.append({"id": str(block.get("id", "")), "type": "function",
                          "function": {"name": str(block.get("name", "")), "arguments": arguments}})
        elif kind == "redacted_thinking":
            continue  # encrypted by its producer: nothing an open model can read
        else:
            at = f"{param}.content.{index}"
            raise InvalidRequestError(f"{at}: unsupported content block type {kind!r} in an assistant turn", param=at)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise InvalidRequestError("tools: expected an array", param="tools")
    converted = []
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequestError(f"tools.{index}: expected a tool with a name", param=f"tools.{index}")
        if tool.get("type") not in (None, "custom") or "input_schema" not in tool:
            raise InvalidRequestError(
                f"tools.{index}: server tool {tool.get('type')!r} is not supported here; define it as a client tool "
                "with input_schema", param=f"tools.{index}")
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):  # the input must match the schema: chat's structured-output switch
            function["strict"] = tool["strict"]
        converted.append({"type": "function", "function": function})
    return converted


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        raise InvalidRequestError("tool_choice: expected an object with a type", param="tool_choice")
    kind = choice.get("type")
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise InvalidRequestError("tool_choice.type: expected auto, any, tool (with a name) or none", param="tool_choice.type")
    if choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _thinking(body: Mapping[str, Any], chat: dict[str, Any]) -> None:
    """`thinking: {type: enabled|disabled}` is the internal switch (policies.thinking_need); effort or
    budget_tokens carries how hard, as `reasoning_effort` for the backends that take one."""
    thinking = body.get("thinking")
    effort = (body.get("output_config") or {}).get("effort") if isinstance(body.get("output_config"), dict) else None
    if not isinstance(thinking, dict):
        return
    kind = thinking.get("type")
    if kind == "disabled":
        chat["thinking"] = {"type": "disabled"}
    elif kind in ("enabled", "adaptive", "between_tools"):
        chat["thinking"] = {"type": "enabled"}
        budget = thinking.get("budget_tokens")
        if isinstance(effort, str) and effort in _EFFORTS:
            chat["reasoning_effort"] = _EFFORTS[effort]
        elif isinstance(budget, int) and budget > 0:
            chat["reasoning_effort"] = "low" if budget < 4096 else "medium" if budget < 16384 else "high"


def to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """The internal chat body of a Messages request; raises InvalidRequestError (Anthropic's 400)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: Field required", param="model")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequestError("max_tokens: Field required (an integer of at least 1)", param="max_tokens")
    chat = to_chat_messages(body)
    chat["max_tokens"] = max_tokens
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("stream: expected a boolean", param="stream")
    if stream:
        chat["stream"] = True
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    stops = body.get("stop_sequences")
    if stops:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise InvalidRequestError("stop_sequences: expected an array of strings", param="stop_sequences")
        chat["stop"] = stops
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        chat["user"] = metadata["user_id"]
    output_format = (body.get("output_config") or {}).get("format") if isinstance(body.get("output_config"), dict) else None
    if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
        chat["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "output", "schema": output_format.get("schema") or {}, "strict": True}}
    _thinking(body, chat)
    return chat


def to_chat_messages(body: Mapping[str, Any]) -> dict[str, Any]:
    """`model`, `messages` (system first) and tools of a Messages body: what count_tokens needs too."""
    messages_in = body.get("messages")
    if not isinstance(messages_in, list) or not messages_in:
        raise InvalidRequestError("messages: Field required (a non-empty array)", param="messages")
    messages: list[dict[str, Any]] = []
    if body.get("system"):
        system = _system_text(body["system"])
        if system:
            messages.append({"role": "system", "content": system})
    for index, message in enumerate(messages_in):
        param = f"messages.{index}"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            messages.extend(_user_messages(message.get("content"), param))
        elif role == "assistant":
            messages.append(_assistant_message(message.get("content"), param))
        elif role == "system":  # Claude Code sends these mid-conversation; kept in place, so the prefix before stays cached
            messages.append({"role": "system", "content": _text_of_blocks(message.get("content"), f"{param}.content")})
        else:
            raise InvalidRequestError(f"{param}.role: expected 'user', 'assistant' or 'system'", param=f"{param}.role")
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None and chat.get("tools"):
        _tool_choice(body["tool_choice"], chat)
    return chat


# --- response ---------------------------------------------------------------------------------

def _stop(finish: str | None, matched: str | None, tool_called: bool) -> tuple[str, str | None]:
    """Anthropic's (stop_reason, stop_sequence) for a chat finish_reason: `max_tokens` wins (a tool call
    it cut short must not run), then `tool_use`, then a stop string the upstream says matched."""
    if finish == "length":
        return "max_tokens", None
    if tool_called:
        return "tool_use", None
    if matched is not None and finish == "stop":
        return "stop_sequence", matched
    return _STOP_REASONS.get(finish or "stop", "end_turn"), None


def _signature(message_id: str) -> str:
    """An opaque signature for a thinking block (the SDK requires one; nothing verifies it here)."""
    return "sy1" + hashlib.blake2b(message_id.encode(), digest_size=12).hexdigest()


def _usage(usage: Usage | None, input_estimate: int) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": input_estimate, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    return {"input_tokens": usage.uncached_prompt_tokens, "output_tokens": usage.completion_tokens,
            "cache_read_input_tokens": usage.cached_tokens, "cache_creation_input_tokens": 0}


def message_from_chat(content: bytes, *, message_id: str, model: str, input_estimate: int = 0) -> bytes:
    """A non-streamed chat completion as an Anthropic `message`."""
    chat = orjson.loads(content)
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    blocks: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        blocks.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": _signature(message_id)})
    if message.get("content"):
        blocks.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = {"_raw_arguments": function.get("arguments")}  # a model's malformed JSON, kept visible
        blocks.append({"type": "tool_use", "id": call.get("id") or f"toolu_{message_id}", "name": function.get("name", ""),
                       "input": arguments if isinstance(arguments, dict) else {"value": arguments}})
    stop, stop_sequence = _stop(choice.get("finish_reason"), cs.matched_stop(choice), bool(message.get("tool_calls")))
    return orjson.dumps({
        "id": message_id, "type": "message", "role": "assistant", "model": model, "content": blocks,
        "stop_reason": stop, "stop_sequence": stop_sequence, "usage": _usage(parse_usage(chat.get("usage")), input_estimate),
    })


def _event(name: bytes, data: bytes) -> bytes:
    return b"event: " + name + b"\ndata: " + data + b"\n\n"


_THINKING_START = b'{"type":"thinking","thinking":"","signature":""}'
_TEXT_START = b'{"type":"text","text":""}'
_MESSAGE_STOP = _event(b"message_stop", b'{"type":"message_stop"}')


class AnthropicStream:
    """The Anthropic event stream of one relayed chat stream: feed each relayed chunk, send what it returns.

    One block is open at a time (`open` is "thinking", "text", a tool index, or None); a new kind
    of delta closes it and opens the next. Deltas are assembled as bytes around the JSON string
    literals `chat_stream` cuts out, so no event is built as a dict and serialised.
    """

    __slots__ = ("message_id", "model", "input_estimate", "index", "open", "finish", "matched_stop", "usage", "started", "ended",
                 "saw_tool")

    def __init__(self, *, message_id: str, model: str, input_estimate: int) -> None:
        self.message_id = message_id
        self.model = model
        self.input_estimate = input_estimate
        self.index = -1
        self.open: str | int | None = None
        self.finish: str | None = None
        self.matched_stop: str | None = None
        self.usage: Usage | None = None
        self.started = False
        self.ended = False
        self.saw_tool = False

    def _start(self) -> bytes:
        message = {"id": self.message_id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                   "stop_reason": None, "stop_sequence": None, "usage": _usage(None, self.input_estimate)}
        return _event(b"message_start", b'{"type":"message_start","message":' + orjson.dumps(message) + b"}")

    def _close(self, out: list[bytes]) -> None:
        if self.open is None:
            return
        index = str(self.index).encode()
        if self.open == "thinking":
            signature = orjson.dumps(_signature(self.message_id))
            out.append(_event(b"content_block_delta", b'{"type":"content_block_delta","index":' + index
                              + b',"delta":{"type":"signature_delta","signature":' + signature + b"}}"))
        out.append(_event(b"content_block_stop", b'{"type":"content_block_stop","index":' + index + b"}"))
        self.open = None

    def _open(self, kind: str | int, block: bytes, out: list[bytes]) -> bytes:
        self._close(out)
        self.index += 1
        self.open = kind
        index = str(self.index).encode()
        out.append(_event(b"content_block_start", b'{"type":"content_block_start","index":' + index + b',"content_block":' + block + b"}"))
        return index

    def _delta(self, index: bytes, delta: bytes) -> bytes:
        return _event(b"content_block_delta", b'{"type":"content_block_delta","index":' + index + b',"delta":' + delta + b"}")

    def feed(self, chunk: bytes) -> bytes:
        """The Anthropic events for one relayed chunk (the first call also starts the message)."""
        out: list[bytes] = []
        if not self.started:
            self.started = True
            out.append(self._start())
        index = str(self.index).encode()
        for delta in cs.chat_deltas(chunk):
            kind = delta[0]
            if kind == cs.TEXT:
                if self.open != "text":
                    index = self._open("text", _TEXT_START, out)
                out.append(self._delta(index, b'{"type":"text_delta","text":' + delta[1] + b"}"))
            elif kind == cs.REASONING:
                if self.open != "thinking":
                    index = self._open("thinking", _THINKING_START, out)
                out.append(self._delta(index, b'{"type":"thinking_delta","thinking":' + delta[1] + b"}"))
            elif kind == cs.TOOL_START and self.open != delta[1]:  # some providers repeat id and name on every fragment
                self.saw_tool = True
                call_id = delta[2] or f"toolu_{self.message_id[4:]}_{delta[1]}"
                block = orjson.dumps({"type": "tool_use", "id": call_id, "name": delta[3], "input": {}})
                index = self._open(delta[1], block, out)
            elif kind == cs.TOOL_ARGS:
                if self.open == delta[1]:
                    out.append(self._delta(index, b'{"type":"input_json_delta","partial_json":' + delta[2] + b"}"))
            elif kind == cs.FINISH:
                self.finish, self.matched_stop = delta[1], delta[2]
            elif kind == cs.USAGE:
                self.usage = delta[1]
            elif kind == cs.DONE:
                out.append(self._end())
            elif kind == cs.ERROR:
                out.append(self.error("overloaded_error" if "429" in delta[1] else "api_error", delta[1]))
        return b"".join(out)

    def _end(self) -> bytes:
        out: list[bytes] = []
        self._close(out)
        self.ended = True
        stop, stop_sequence = _stop(self.finish, self.matched_stop, self.saw_tool)
        usage = _usage(self.usage, self.input_estimate)
        if self.usage is None:
            usage.pop("input_tokens")  # not reported: message_start's estimate stands
        out.append(_event(b"message_delta", b'{"type":"message_delta","delta":{"stop_reason":"' + stop.encode()
                          + b'","stop_sequence":' + orjson.dumps(stop_sequence) + b'},"usage":' + orjson.dumps(usage) + b"}"))
        out.append(_MESSAGE_STOP)
        return b"".join(out)

    def error(self, kind: str, message: str) -> bytes:
        """An `error` event (a failure after the stream started); nothing follows it."""
        self.ended = True
        return _event(b"error", error_body(kind, message))
