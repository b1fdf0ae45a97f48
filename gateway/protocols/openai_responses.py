"""OpenAI Responses API in and out: `/v1/responses` to the internal chat form, and back.

Pure functions and one stream state machine. Names follow the `openai` Python SDK (3.57.0,
types/responses/), whose stream helper checks item identities event by event.

In: `instructions` (first system message), `input` as a string or items: messages (roles user,
system, developer, assistant; `input_text`, `input_image`, `output_text` parts), `function_call`,
`function_call_output`, and `reasoning` items, whose text becomes the next assistant turn's
`reasoning_content` (DeepSeek rejects a tool continuation without it). Reasoning comes back as
`content: [{type: reasoning_text}]` and, for clients that ask for
`include: ["reasoning.encrypted_content"]` (Codex, which keeps no server state), also as
`encrypted_content`, so a stateless client returns it and the next turn still carries it.
Function `tools` (and the functions of `namespace` tools; built-in tools such as `web_search`,
which only OpenAI runs, are left out), `tool_choice`, `parallel_tool_calls`, `reasoning.effort`, `max_output_tokens`,
`text.format` (json_schema / json_object), `temperature`, `top_p`, `user` map to chat; a
`previous_response_id`'s stored conversation goes first (its `instructions` are not carried over,
as in OpenAI's API).

Out: a `response` object with reasoning / message / function_call items, or, streamed:
`response.created`, `response.in_progress`, per item `response.output_item.added`,
(`response.content_part.added`, `response.output_text.delta`|`response.reasoning_text.delta`,
`...done`, `response.content_part.done`) or `response.function_call_arguments.delta/done`,
`response.output_item.done`, then `response.completed` | `response.incomplete` |
`response.failed`. Every `data` carries its `type` and `sequence_number`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import orjson

from backends.usage import Usage, parse_usage
from gateway.errors import InvalidRequestError
from gateway.protocols import chat_stream as cs

__all__ = ["ENCRYPTED_PREFIX", "ResponsesStream", "ResponseSkeleton", "response_from_chat", "to_chat"]

ENCRYPTED_PREFIX = "sy1:"  # `encrypted_content` this gateway wrote: the reasoning text, base64 (nothing secret in it)
_INCLUDE_ENCRYPTED = "reasoning.encrypted_content"
_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})


# --- request ----------------------------------------------------------------------------------

def _part(part: Any, param: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("low", "high"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal", ""))}
    raise InvalidRequestError(f"{param}: unsupported content part type {kind!r}", param=param)


def _content(content: Any, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequestError(f"{param}: expected a string or an array of content parts", param=param)
    parts = [_part(p, f"{param}[{i}]") for i, p in enumerate(content)]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _reasoning_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's text: its reasoning_text parts, else our own encrypted_content, else its summary."""
    texts = [str(p.get("text", "")) for p in item.get("content") or () if isinstance(p, dict)]
    if not any(texts):
        encrypted = item.get("encrypted_content")
        if isinstance(encrypted, str) and encrypted.startswith(ENCRYPTED_PREFIX):
            try:
                return base64.b64decode(encrypted[len(ENCRYPTED_PREFIX):]).decode()
            except (ValueError, UnicodeDecodeError):
                return ""
        texts = [str(p.get("text", "")) for p in item.get("summary") or () if isinstance(p, dict)]
    return "".join(texts)


def _output_text(item: Mapping[str, Any]) -> str:
    return "".join(str(p.get("text", "")) for p in item.get("content") or () if isinstance(p, dict) and p.get("type") == "output_text")


class _Conversation:
    """Chat messages built from Responses items: consecutive assistant output (text, reasoning, function
    calls) merges into one assistant message, as chat completions expects."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.reasoning: str | None = None  # waits for the assistant turn it belongs to

    def _assistant(self) -> dict[str, Any]:
        last = self.messages[-1] if self.messages else None
        if last is None or last.get("role") != "assistant" or self.reasoning is not None and last.get("reasoning_content"):
            last = {"role": "assistant", "content": None}
            self.messages.append(last)
        if self.reasoning is not None:
            last["reasoning_content"] = self.reasoning
            self.reasoning = None
        return last

    def add(self, item: Any, param: str) -> None:
        if not isinstance(item, dict):
            raise InvalidRequestError(f"{param}: expected an object", param=param)
        kind = item.get("type")
        if kind in (None, "message") and item.get("role") in _MESSAGE_ROLES:
            role = item["role"]
            if role == "assistant":
                message = self._assistant()
                text = _output_text(item) if isinstance(item.get("content"), list) else str(item.get("content") or "")
                message["content"] = (message.get("content") or "") + text
            else:
                self.messages.append({"role": role, "content": _content(item.get("content"), f"{param}.content")})
        elif kind == "function_call":
            message = self._assistant()
            call = {"id": str(item.get("call_id", "")), "type": "function",
                    "function": {"name": str(item.get("name", "")), "arguments": str(item.get("arguments") or "{}")}}
            message.setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else _content(output, f"{param}.output")
            self.messages.append({"role": "tool", "tool_call_id": str(item.get("call_id", "")), "content": content})
        elif kind == "reasoning":
            text = _reasoning_text(item)
            self.reasoning = (self.reasoning or "") + text if text else self.reasoning
        else:
            raise InvalidRequestError(f"{param}.type: unsupported input item type {kind!r}", param=f"{param}.type")


BUILT_IN_TOOLS = frozenset({"web_search", "web_search_preview", "file_search", "computer_use_preview", "code_interpreter",
                            "image_generation", "local_shell", "shell", "mcp", "custom", "apply_patch", "tool_search"})
"""Tools OpenAI runs itself (or, `custom`, with free-form input): no backend here can, so they are left out
(Codex CLI sends `web_search` on every turn); the model sees only function tools."""


def _function(tool: dict[str, Any], param: str) -> dict[str, Any]:
    if not isinstance(tool.get("name"), str):
        raise InvalidRequestError(f"{param}.name: a function tool needs a name", param=f"{param}.name")
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("parameters") or {"type": "object", "properties": {}}}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def tool_namespaces(tools: Any) -> dict[str, str]:
    """Function name -> namespace, for the functions of `namespace` tools (Codex groups its sub-agent tools so)."""
    return {sub["name"]: tool["name"] for tool in tools or () if isinstance(tool, dict) and tool.get("type") == "namespace"
            for sub in tool.get("tools") or () if isinstance(sub, dict) and isinstance(sub.get("name"), str)}


def _tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools, and those inside `namespace` tools, as chat tools; built-in tools left out."""
    if not isinstance(tools, list):
        raise InvalidRequestError("tools: expected an array", param="tools")
    converted = []
    for index, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            converted.append(_function(tool, f"tools[{index}]"))
        elif kind == "namespace":
            converted += [_function(sub, f"tools[{index}].tools[{n}]") for n, sub in enumerate(tool.get("tools") or ())
                          if isinstance(sub, dict) and sub.get("type", "function") == "function"]
        elif kind not in BUILT_IN_TOOLS:
            raise InvalidRequestError(f"tools[{index}]: unsupported tool type {kind!r}", param=f"tools[{index}]")
    return converted


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequestError("tool_choice: expected auto, none, required or {type: function, name}", param="tool_choice")


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        schema = {"name": fmt.get("name") or "output", "schema": fmt.get("schema") or {}}
        if fmt.get("strict") is not None:
            schema["strict"] = fmt["strict"]
        return {"type": "json_schema", "json_schema": schema}
    raise InvalidRequestError(f"text.format.type: unsupported {fmt['type']!r}", param="text.format.type")


def to_chat(body: Mapping[str, Any], previous: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the internal chat body, the conversation to store with the answer: `previous` + this input,
    without instructions); raises InvalidRequestError."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    conversation = _Conversation(list(previous or ()))
    items = body.get("input")
    if isinstance(items, str):
        conversation.messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        for index, item in enumerate(items):
            conversation.add(item, f"input[{index}]")
    elif items is not None:
        raise InvalidRequestError("input: expected a string or an array of items", param="input")
    if conversation.reasoning:  # a trailing reasoning item with no turn after it: keep it on the last assistant turn
        conversation._assistant()
    history = conversation.messages
    if not history:
        raise InvalidRequestError("Missing required parameter: 'input'.", param="input")
    instructions = body.get("instructions")
    messages = ([{"role": "system", "content": instructions}] if isinstance(instructions, str) and instructions else []) + history
    chat: dict[str, Any] = {"model": model, "messages": messages}
    if body.get("stream") is True:
        chat["stream"] = True
    tools = _tools(body["tools"]) if body.get("tools") else None
    if tools:
        chat["tools"] = tools
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidRequestError("max_output_tokens: expected an integer of at least 1", param="max_output_tokens")
        chat["max_tokens"] = limit
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning_effort"] = "none" if reasoning["effort"] == "none" else (
            "low" if reasoning["effort"] == "minimal" else "high" if reasoning["effort"] == "xhigh" else reasoning["effort"])
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str):
        chat["user"] = user
    return chat, history


# --- response ---------------------------------------------------------------------------------

class ResponseSkeleton:
    """The parts of a `response` object that echo the request, built once per request."""

    __slots__ = ("response_id", "model", "created_at", "fields", "encrypted", "namespaces")

    def __init__(self, body: Mapping[str, Any], *, response_id: str, created_at: int | None = None) -> None:
        self.response_id = response_id
        self.model = str(body.get("model"))
        self.created_at = int(time.time()) if created_at is None else created_at
        self.encrypted = _INCLUDE_ENCRYPTED in (body.get("include") or ())
        self.namespaces = tool_namespaces(body.get("tools"))
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        text = body.get("text") if isinstance(body.get("text"), dict) else {}
        self.fields = {
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {}, "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": body.get("store", True) is not False, "temperature": body.get("temperature"),
            "text": {"format": text.get("format") or {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [], "top_p": body.get("top_p"), "truncation": body.get("truncation") or "disabled",
            "user": body.get("user"),
        }

    def response(self, status: str, output: list[dict[str, Any]], usage: Usage | None, *,
                 incomplete_reason: str | None = None, error: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "id": self.response_id, "object": "response", "created_at": self.created_at, "status": status,
            "error": error, "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "model": self.model, "output": output, **self.fields, "usage": _usage(usage),
        }

    def reasoning_item(self, item_id: str, text: str) -> dict[str, Any]:
        item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": [],
                                "content": [{"type": "reasoning_text", "text": text}], "status": "completed"}
        if self.encrypted:
            item["encrypted_content"] = ENCRYPTED_PREFIX + base64.b64encode(text.encode()).decode()
        return item


def _usage(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    # cache_write_tokens: required by the SDK's InputTokensDetails (openai 3.57.0); no upstream here bills cache writes
    return {"input_tokens": usage.prompt_tokens, "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": usage.completion_tokens, "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.prompt_tokens + usage.completion_tokens}


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed",
               namespaces: Mapping[str, str] | None = None) -> dict[str, Any]:
    item = {"id": item_id, "type": "function_call", "call_id": call_id, "name": name, "arguments": arguments, "status": status}
    if namespaces and name in namespaces:
        item["namespace"] = namespaces[name]
    return item


def _ending(finish: str | None) -> tuple[str, str | None]:
    """(status, incomplete reason) for a chat finish_reason."""
    if finish == "length":
        return "incomplete", "max_output_tokens"
    if finish == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def assistant_message(output: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat assistant message of a response's output items (what a later turn sends back)."""
    conversation = _Conversation([])
    for index, item in enumerate(output):
        conversation.add(item, f"output[{index}]")
    if conversation.reasoning:
        conversation._assistant()
    return conversation.messages[0] if conversation.messages else {"role": "assistant", "content": ""}


def response_from_chat(content: bytes, skeleton: ResponseSkeleton) -> dict[str, Any]:
    """A non-streamed chat completion as a `response` object."""
    chat = orjson.loads(content)
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    ident = skeleton.response_id[5:]
    output: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        output.append(skeleton.reasoning_item(f"rs_{ident}", message["reasoning_content"]))
    if message.get("content"):
        output.append(_message_item(f"msg_{ident}", message["content"]))
    for number, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        output.append(_call_item(f"fc_{ident}_{number}", call.get("id") or f"call_{ident}_{number}", function.get("name", ""),
                                 function.get("arguments") or "", namespaces=skeleton.namespaces))
    status, reason = _ending(choice.get("finish_reason"))
    return skeleton.response(status, output, parse_usage(chat.get("usage")), incomplete_reason=reason)


def _event(name: bytes, sequence: int, data: bytes) -> bytes:
    """`event: NAME` + `data: {"type":NAME,"sequence_number":N,...}`; `data` is the rest of the object without its braces."""
    return (b"event: " + name + b'\ndata: {"type":"' + name + b'","sequence_number":' + str(sequence).encode()
            + (b"," + data if data else b"") + b"}\n\n")


class ResponsesStream:
    """The Responses event stream of one relayed chat stream; `response` is the final object once it ended.

    One output item is open at a time (`open`: "reasoning", "message", a tool index, or None).
    Deltas are assembled as bytes around the JSON string literals `chat_stream` cuts out; an item's
    text is decoded once, when it closes; only the few lifecycle events carry whole objects.
    """

    __slots__ = ("skeleton", "sequence", "output", "open", "text", "finish", "usage", "started", "response", "_ident",
                 "_item_id", "_call", "_where_bytes")

    def __init__(self, skeleton: ResponseSkeleton) -> None:
        self.skeleton = skeleton
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: str | int | None = None
        self.text: list[bytes] = []  # JSON string literals of the open item's text
        self._where_bytes = b""
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.started = False
        self.response: dict[str, Any] | None = None  # set when the stream ended (completed, incomplete or failed)
        self._ident = skeleton.response_id[5:]
        self._item_id = b""
        self._call: tuple[str, str] = ("", "")  # call id, name of the open function call

    def _emit(self, out: list[bytes], name: bytes, data: bytes) -> None:
        out.append(_event(name, self.sequence, data))
        self.sequence += 1

    def _where(self, content_index: bool = True) -> bytes:
        """`"item_id":...,"output_index":N` of the open item, and `,"content_index":0` (built once per item)."""
        return self._where_bytes if content_index else self._where_bytes[:-18]

    def _start(self, out: list[bytes]) -> None:
        response = orjson.dumps(self.skeleton.response("in_progress", [], None))
        self._emit(out, b"response.created", b'"response":' + response)
        self._emit(out, b"response.in_progress", b'"response":' + response)

    def _open(self, kind: str | int, item: dict[str, Any], part: bytes | None, out: list[bytes]) -> None:
        self._close(out)
        self.open = kind
        self._item_id = item["id"].encode()
        self._where_bytes = (b'"item_id":"' + self._item_id + b'","output_index":' + str(len(self.output)).encode()
                             + b',"content_index":0')
        self._emit(out, b"response.output_item.added", b'"output_index":' + str(len(self.output)).encode() + b',"item":' + orjson.dumps(item))
        if part is not None:
            self._emit(out, b"response.content_part.added", self._where() + b',"part":' + part)

    def _close(self, out: list[bytes]) -> None:
        if self.open is None:
            return
        text = cs.decode_literals(self.text)
        self.text = []
        item_id = self._item_id.decode()
        if self.open == "message":
            item = _message_item(item_id, text)
            part = orjson.dumps(item["content"][0])
            self._emit(out, b"response.output_text.done", self._where() + b',"text":' + orjson.dumps(text) + b',"logprobs":[]')
            self._emit(out, b"response.content_part.done", self._where() + b',"part":' + part)
        elif self.open == "reasoning":
            item = self.skeleton.reasoning_item(item_id, text)
            self._emit(out, b"response.reasoning_text.done", self._where() + b',"text":' + orjson.dumps(text))
            self._emit(out, b"response.content_part.done", self._where() + b',"part":' + orjson.dumps(item["content"][0]))
        else:
            call_id, name = self._call
            item = _call_item(item_id, call_id, name, text, namespaces=self.skeleton.namespaces)
            self._emit(out, b"response.function_call_arguments.done",
                       self._where(False) + b',"name":' + orjson.dumps(name) + b',"arguments":' + orjson.dumps(text))
        self._emit(out, b"response.output_item.done", b'"output_index":' + str(len(self.output)).encode() + b',"item":' + orjson.dumps(item))
        self.output.append(item)
        self.open = None

    def feed(self, chunk: bytes) -> bytes:
        """The Responses events for one relayed chunk (the first call also creates the response)."""
        out: list[bytes] = []
        if not self.started:
            self.started = True
            self._start(out)
        for delta in cs.chat_deltas(chunk):
            kind = delta[0]
            if kind == cs.TEXT:
                if self.open != "message":
                    self._open("message", _message_item(f"msg_{self._ident}_{len(self.output)}", "", "in_progress"),
                               b'{"type":"output_text","text":"","annotations":[],"logprobs":[]}', out)
                self.text.append(delta[1])
                self._emit(out, b"response.output_text.delta", self._where_bytes + b',"delta":' + delta[1] + b',"logprobs":[]')
            elif kind == cs.REASONING:
                if self.open != "reasoning":
                    item = {"id": f"rs_{self._ident}_{len(self.output)}", "type": "reasoning", "summary": [], "content": [],
                            "status": "in_progress"}
                    self._open("reasoning", item, b'{"type":"reasoning_text","text":""}', out)
                self.text.append(delta[1])
                self._emit(out, b"response.reasoning_text.delta", self._where_bytes + b',"delta":' + delta[1])
            elif kind == cs.TOOL_START and self.open != delta[1]:  # some providers repeat id and name on every fragment
                call_id = delta[2] or f"call_{self._ident}_{delta[1]}"
                item = _call_item(f"fc_{self._ident}_{len(self.output)}", call_id, delta[3], "", "in_progress", self.skeleton.namespaces)
                self._open(delta[1], item, None, out)
                self._call = (call_id, delta[3])
            elif kind == cs.TOOL_ARGS:
                if self.open == delta[1]:
                    self.text.append(delta[2])
                    self._emit(out, b"response.function_call_arguments.delta", self._where(False) + b',"delta":' + delta[2])
            elif kind == cs.FINISH:
                self.finish = delta[1]
            elif kind == cs.USAGE:
                self.usage = delta[1]
            elif kind == cs.DONE:
                self._close(out)
                status, reason = _ending(self.finish)
                self.response = self.skeleton.response(status, self.output, self.usage, incomplete_reason=reason)
                name = b"response.completed" if status == "completed" else b"response.incomplete"
                self._emit(out, name, b'"response":' + orjson.dumps(self.response))
            elif kind == cs.ERROR:
                out.append(self.failed("server_error", delta[1]))
        return b"".join(out)

    def failed(self, code: str, message: str) -> bytes:
        """`response.failed` (a failure after the stream started); nothing follows it."""
        out: list[bytes] = []
        if not self.started:
            self.started = True
            self._start(out)
        self._close(out)
        self.response = self.skeleton.response("failed", self.output, self.usage, error={"code": code, "message": message})
        self._emit(out, b"response.failed", b'"response":' + orjson.dumps(self.response))
        return b"".join(out)
