"""The emulator's HTTP server (Starlette on uvicorn): OpenAI-compatible routes plus `/_emulator/*`.

Requests beyond `max_concurrency` wait in a queue (visible on `/metrics`); timing comes from
`ttft_ms` (first token) and `tpot_ms` (each further token); faults come from `FaultPlan`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from backends.emulator.answer import Answer, estimate_tokens, plan_answer, prompt_text
from backends.emulator.faults import FaultPlan
from backends.emulator.batched import BatchedEngine
from backends.emulator.load import LoadTracker
from backends.emulator.pacing import BatchedPacing, FixedPacing
from backends.emulator.prefix_cache import PrefixCache
from backends.emulator.profiles import PROFILES, Profile

__all__ = ["EmulatorConfig", "Emulator", "create_app", "EmulatedReset"]

REQUEST_LOG_SIZE = 100
_SSE_HEADERS = {"cache-control": "no-cache"}
_CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
_ids = itertools.count(1)


@dataclass(slots=True)
class EmulatorConfig:
    """Settings of one emulated upstream (the flags of `gateway emulate`)."""

    profile: str = "vllm"
    model: str | None = None
    ttft_ms: float = 20.0
    tpot_ms: float = 5.0
    max_concurrency: int | None = None
    fail_rate: float = 0.0
    fail_mode: str = "500"
    slow_ms: float = 200.0
    seed: int = 0
    planner: Any = None  # a planner.simulate.DeploymentSpec: time requests by the planner's batching model
    time_scale: float = 1.0  # with planner: every step lasts time_scale x the planner's figure
    max_model_len: int = 163_840  # DeepSeek-V3.2's context window (its config.json max_position_embeddings)


class EmulatedReset(Exception):
    """Raised on purpose to drop the client's connection (fault modes reset and midstream)."""


class _QuietResets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], EmulatedReset))


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str, type_: str, headers: dict[str, str] | None = None, param: str | None = None) -> Response:
    return _json({"error": {"message": message, "type": type_, "param": param, "code": status}}, status, headers)


def _bad_parameter(message: str, param: str, value: Any) -> Response:
    """vLLM's 400 for a parameter out of range: the parameter named in `param` and the message."""
    return _error(400, f"{message} (parameter={param}, value={value})", "BadRequestError", param=param)


def _completion_tokens(usage: dict[str, Any]) -> int:
    return int(usage.get("completion_tokens") or 0)


def _cached(usage: dict[str, Any]) -> int:
    details = usage.get("prompt_tokens_details") or {}
    return int(usage.get("prompt_cache_hit_tokens") or details.get("cached_tokens") or 0)


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


class Emulator:
    """State and handlers of one emulated upstream."""

    def __init__(self, config: EmulatorConfig) -> None:
        if config.profile not in PROFILES:
            raise ValueError(f"emulator profile {config.profile!r} is unknown; valid profiles: {', '.join(PROFILES)}")
        self.config = config
        self.profile: Profile = PROFILES[config.profile]
        self.model = config.model or self.profile.default_model
        self.load = LoadTracker(config.max_concurrency)
        self.pacing: FixedPacing | BatchedPacing = FixedPacing(self.load, config)
        if config.planner is not None:
            from planner.simulate.step_model import replica_timing

            engine_name = config.profile if config.profile in ("vllm", "sglang") else "vllm"
            engine = BatchedEngine(replica_timing(config.planner, engine_name), config.time_scale)
            self.pacing = BatchedPacing(engine)
            self.load.live = engine.load
        self.cache = PrefixCache(self.profile.cache_block_tokens)
        self.faults = FaultPlan(config.fail_rate, config.fail_mode, config.slow_ms, config.seed)
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.requests_received = 0  # every inference request, faulted or not; never cleared
        # each provider answers differently to the same request, as different models would
        self._seed = config.seed ^ zlib.crc32(self.profile.name.encode())

    # --- control --------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def models(self, request: Request) -> Response:
        card = {"id": self.model, "object": "model", "created": 1_700_000_000, "owned_by": self.profile.owned_by}
        card = self.profile.wire.model_card(card, max_model_len=self.config.max_model_len)
        return _json({"object": "list", "data": [card]})

    async def metrics(self, request: Request) -> Response:
        if self.profile.metrics_prefix is None:
            return _error(404, "Not Found", "not_found_error")
        text = self.load.render_metrics(self.profile.metrics_prefix, self.model)
        return Response(text, media_type="text/plain; version=0.0.4")

    async def recent_requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.requests.clear()
        return _json({"requests": list(self.requests)})

    async def stats(self, request: Request) -> Response:
        """Counters that, unlike the request log, are never trimmed or cleared: {requests_received}."""
        return _json({"requests_received": self.requests_received})

    async def configure(self, request: Request) -> Response:
        """Change faults or timing at run time: {fail_rate, fail_mode, slow_ms, ttft_ms, tpot_ms}."""
        if request.method == "POST":
            try:
                update = orjson.loads(await request.body())
                c = self.config
                for key in ("fail_rate", "fail_mode", "slow_ms", "ttft_ms", "tpot_ms"):
                    if key in update:
                        setattr(c, key, type(getattr(c, key))(update[key]))
                self.faults = FaultPlan(c.fail_rate, c.fail_mode, c.slow_ms, c.seed)
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                return _error(400, str(exc), "invalid_request_error")
        c = self.config
        return _json({k: getattr(c, k) for k in ("profile", "fail_rate", "fail_mode", "slow_ms", "ttft_ms", "tpot_ms")})

    # --- inference --------------------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        return await self._serve(request, chat=True)

    async def completions(self, request: Request) -> Response:
        return await self._serve(request, chat=False)

    def _remember(self, request: Request, body: Any) -> None:
        headers = {k: ("[redacted]" if k in _CREDENTIAL_HEADERS else v) for k, v in request.headers.items()}
        # a fingerprint, so a test can tell whose credential arrived without the log holding it
        fingerprints = {k: hashlib.sha256(v.encode()).hexdigest()[:16] for k, v in request.headers.items() if k in _CREDENTIAL_HEADERS}
        self.requests.append({"path": request.url.path, "headers": headers, "credential_sha256": fingerprints, "body": body})

    async def _serve(self, request: Request, *, chat: bool) -> Response:
        arrived = time.perf_counter()
        self.requests_received += 1
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "The request body is not valid JSON.", "BadRequestError")
        self._remember(request, body)
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.", "BadRequestError")
        if chat and not (isinstance(body.get("messages"), list) and body["messages"]):
            return _error(400, "messages: a non-empty list is required", "BadRequestError")
        if not chat and "prompt" not in body:
            return _error(400, "prompt: field required", "BadRequestError")
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 16:
            return _error(400, "n must be an integer between 1 and 16", "BadRequestError")
        temperature = body.get("temperature")
        if isinstance(temperature, (int, float)) and temperature < 0:
            return _bad_parameter(f"temperature must be non-negative, got {float(temperature)}.", "temperature", float(temperature))
        max_model_len = self.config.max_model_len
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and limit > max_model_len:
            return _bad_parameter(f"max_tokens={limit} cannot be greater than max_model_len={max_model_len}. "
                                  "Please request fewer output tokens.", "max_tokens", limit)
        stream = body.get("stream") is True
        fault = self.faults.draw()
        if fault is not None and fault not in ("midstream", "slow"):
            early = await self._fault_response(request, fault, stream)
            if early is not None:
                return early
        thinking = chat and self.profile.thinking_requested(body)
        answers = [plan_answer(body, thinking=thinking, seed=self._seed, choice_index=i) for i in range(n)]
        if not chat:
            for answer in answers:
                answer.reasoning, answer.tool_calls = [], []
        prompt_tokens = estimate_tokens(prompt_text(body))
        if chat:  # chat-template overhead: about 4 tokens per message plus 3 to prime the reply (OpenAI cookbook)
            prompt_tokens += 4 * len(body["messages"]) + 3
        if prompt_tokens > max_model_len:
            return _bad_parameter(
                f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains at least "
                f"{prompt_tokens} input tokens, which exceeds this limit even without any output tokens. "
                "Please reduce the length of the input prompt.", "input_tokens", prompt_tokens)
        cached = min(self.cache.lookup_and_insert(body.get("messages") or [body.get("prompt")]), prompt_tokens)
        cached -= cached % self.profile.cache_block_tokens
        if chat and n == 1 and not answers[0].reasoning and not answers[0].tool_calls:
            self.cache.remember_answer(body["messages"], "".join(answers[0].content))
        completion = sum(a.completion_tokens for a in answers)
        usage = self.profile.usage(prompt_tokens, cached, completion, sum(len(a.reasoning) for a in answers))
        ident = f"{'chatcmpl' if chat else 'cmpl'}-{os.getpid():x}{next(_ids):08x}"
        header = {"id": ident, "object": "chat.completion.chunk" if chat else "text_completion", "created": int(time.time()), "model": body.get("model") or self.model}
        if self.profile.system_fingerprint:
            header["system_fingerprint"] = self.profile.system_fingerprint
        slow_s = self.config.slow_ms / 1000 if fault == "slow" else 0.0
        if stream:
            options = body.get("stream_options")
            wants_usage = isinstance(options, dict) and options.get("include_usage") is True
            events = self._events(header, answers, usage, chat=chat, wants_usage=wants_usage, arrived=arrived, slow_s=slow_s, fail_midway=fault == "midstream")
            return StreamingResponse(events, media_type="text/event-stream", headers=_SSE_HEADERS)
        return await self._complete(header, answers, usage, prompt_tokens, chat=chat, arrived=arrived, slow_s=slow_s, fail_midway=fault == "midstream")

    async def _fault_response(self, request: Request, fault: str, stream: bool) -> Response | None:
        if fault == "500":
            return _error(500, "Internal server error (emulated fault).", "server_error")
        if fault == "401":
            token = request.headers.get("authorization", "").partition(" ")[2]
            return _error(401, f"Incorrect API key provided: {token} (emulated fault).", "invalid_request_error")
        if fault == "429":
            return _error(429, "Rate limit reached (emulated fault).", "rate_limit_error", {"retry-after": "1"})
        if fault == "timeout":
            while (await request.receive())["type"] != "http.disconnect":
                pass  # never answer; wait for the client to give up
            return _error(504, "Timed out (emulated fault).", "timeout")
        if fault == "reset":
            return StreamingResponse(self._reset_after(b""), media_type="text/event-stream" if stream else "application/json")
        if fault == "malformed":
            if stream:
                return StreamingResponse(self._chunks([b"data: {not json\n\n"]), media_type="text/event-stream")
            return Response(b"{not json", media_type="application/json")
        if fault == "error-body":
            error = {"error": {"message": "Upstream overloaded (emulated fault).", "type": "server_error", "code": 500}}
            if stream:
                return StreamingResponse(self._chunks([_sse(error)]), media_type="text/event-stream")
            return _json(error)
        return None

    @staticmethod
    async def _chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    @staticmethod
    async def _reset_after(data: bytes) -> AsyncIterator[bytes]:
        if data:
            yield data
        raise EmulatedReset("emulated connection reset")

    def _choice_pieces(self, answer: Answer, index: int, chat: bool) -> list[dict[str, Any]]:
        """Every streamed `choices[]` entry of one answer, in order (one per token)."""
        extra = dict(self.profile.extra_choice_fields)
        if not chat:
            return [{"index": index, "text": piece, "logprobs": None, "finish_reason": None} for piece in answer.content]
        pieces = [{"index": index, "delta": {"role": "assistant", "content": ""}, **extra, "finish_reason": None}]
        field = self.profile.reasoning_field
        pieces += [{"index": index, "delta": {field: p}, **extra, "finish_reason": None} for p in answer.reasoning]
        pieces += [{"index": index, "delta": {"content": p}, **extra, "finish_reason": None} for p in answer.content]
        for call_index, call in enumerate(answer.tool_calls):
            start = {"index": call_index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
            pieces.append({"index": index, "delta": {"tool_calls": [start]}, **extra, "finish_reason": None})
            for part in [call.arguments[i : i + 8] for i in range(0, len(call.arguments), 8)]:
                fragment = {"index": call_index, "function": {"arguments": part}}
                pieces.append({"index": index, "delta": {"tool_calls": [fragment]}, **extra, "finish_reason": None})
        return pieces

    def _finish_piece(self, answer: Answer, index: int, chat: bool) -> dict[str, Any]:
        if not chat:
            return {"index": index, "text": "", "logprobs": None, "finish_reason": answer.finish_reason}
        delta = self.profile.wire.finish_delta()
        return {"index": index, "delta": delta, **dict(self.profile.extra_choice_fields), "finish_reason": answer.finish_reason}

    async def _events(
        self, header: dict[str, Any], answers: list[Answer], usage: dict[str, Any], *,
        chat: bool, wants_usage: bool, arrived: float, slow_s: float, fail_midway: bool,
    ) -> AsyncIterator[bytes]:
        wire = self.profile.wire
        pieces = [p for i, a in enumerate(answers) for p in self._choice_pieces(a, i, chat)]
        finals = [self._finish_piece(a, i, chat) for i, a in enumerate(answers)]
        usage_chunk_follows = wants_usage and not self.profile.usage_on_final_chunk
        async with self.pacing.request(usage["prompt_tokens"], max(1, _completion_tokens(usage)), _cached(usage), slow_s) as pace:
            await pace.first_token()
            self.load.observe_ttft(time.perf_counter() - arrived)
            cut = max(2, len(pieces) // 2) if fail_midway else -1  # after some content
            for number, piece in enumerate(pieces):
                if number == cut:
                    raise EmulatedReset("emulated failure in the middle of the stream")
                if number > 1:  # the role chunk and the first token leave together
                    await pace.next_token()
                kind = "role" if chat and "role" in piece["delta"] else "token"
                yield _sse(wire.chunk({**header, "choices": [piece]}, kind, chat=chat, usage_follows=usage_chunk_follows))
            await pace.end()
            final: dict[str, Any] = {**header, "choices": finals}
            if self.profile.usage_on_final_chunk:
                final["usage"] = usage
            yield _sse(wire.chunk(final, "finish", chat=chat, usage_follows=usage_chunk_follows))
            if usage_chunk_follows:
                yield _sse(wire.chunk({**header, "choices": [], "usage": usage}, "usage", chat=chat, usage_follows=False))
            yield b"data: [DONE]\n\n"
            self.load.observe_tokens(usage["prompt_tokens"], usage["completion_tokens"])

    async def _complete(
        self, header: dict[str, Any], answers: list[Answer], usage: dict[str, Any], prompt_tokens: int, *,
        chat: bool, arrived: float, slow_s: float, fail_midway: bool,
    ) -> Response:
        tokens = max(a.completion_tokens for a in answers)
        async with self.pacing.request(usage["prompt_tokens"], max(1, tokens), _cached(usage), slow_s) as pace:
            await pace.first_token()
            self.load.observe_ttft(time.perf_counter() - arrived)
            await pace.rest(tokens - 1)
            self.load.observe_tokens(usage["prompt_tokens"], usage["completion_tokens"])
        choices = [self._message_choice(a, i, chat) for i, a in enumerate(answers)]
        obj = {**header, "object": "chat.completion" if chat else "text_completion", "choices": choices, "usage": usage}
        obj = self.profile.wire.response(obj, chat=chat)
        if fail_midway:
            data = orjson.dumps(obj)
            return StreamingResponse(self._reset_after(data[: len(data) // 2]), media_type="application/json")
        return _json(obj)

    def _message_choice(self, answer: Answer, index: int, chat: bool) -> dict[str, Any]:
        if not chat:
            return {"index": index, "text": "".join(answer.content), "logprobs": None, "finish_reason": answer.finish_reason}
        message: dict[str, Any] = {"role": "assistant", "content": "".join(answer.content) if answer.content or not answer.tool_calls else None}
        if answer.reasoning:
            message[self.profile.reasoning_field] = "".join(answer.reasoning)
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in answer.tool_calls
            ]
        return {"index": index, "message": message, **dict(self.profile.extra_choice_fields), "finish_reason": answer.finish_reason}


_QUIET_RESETS = _QuietResets()


def create_app(config: EmulatorConfig) -> Starlette:
    """The emulator as an ASGI app."""
    logging.getLogger("uvicorn.error").addFilter(_QUIET_RESETS)
    emulator = Emulator(config)
    routes = [
        Route("/health", emulator.health),
        Route("/v1/models", emulator.models),
        Route("/metrics", emulator.metrics),
        Route("/v1/chat/completions", emulator.chat_completions, methods=["POST"]),
        Route("/v1/completions", emulator.completions, methods=["POST"]),
        Route("/_emulator/requests", emulator.recent_requests, methods=["GET", "DELETE"]),
        Route("/_emulator/config", emulator.configure, methods=["GET", "POST"]),
        Route("/_emulator/stats", emulator.stats),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return app
