"""Run a routing decision: try the chain's backends in turn, relay the answer, report every attempt.

The only caller of a backend. Fallback happens on the policy's `fallback.on` kinds, up to
`fallback.max_attempts`, and only while nothing has reached the client: a stream is committed
to a backend when its first content arrives; a later failure ends the stream with an SSE
`error` event in OpenAI's error shape and no `[DONE]`.

Every attempt is published to the runtime's `OutcomeHub` (usage ledger, live state, limits,
metrics). Before the client's last bytes (a non-streamed body, a stream's `data: [DONE]`, or
an error) the dispatcher awaits `durable`, the ledger's group commit, so a response the client
saw complete has its records stored even if the gateway is killed right after. TTFT is reported
only for streams, where the first token is seen; a non-streamed answer's total time is its
latency, never its TTFT (the state store splits off its first-token part for `prefer: latency`,
`gateway.live.latency_stats.first_token_part_ms`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio

from backends.base import Backend, UpstreamStream
from backends.errors import UpstreamError
from backends.sse import DONE_EVENT
from backends.usage import Usage
from gateway.decision_log import DecisionLog
from gateway.errors import GatewayError, UpstreamFailedError, error_body
from gateway.outcomes import AttemptOutcome
from gateway.runtime import BackendEntry, GatewayRuntime
from gateway.state.affinity_store import AffinityStore
from policies.decision import Decision

__all__ = ["DispatchRequest", "CompletedCall", "OpenedStream", "Dispatcher", "Durable"]

log = logging.getLogger("switchyard.dispatch")


@dataclass(slots=True)
class DispatchRequest:
    """One client request, routed."""

    request_id: str
    path: str  # upstream path: "/chat/completions" or "/completions"
    body: dict[str, Any]  # the client's body; never mutated
    decision: Decision
    started: float  # time.perf_counter() when the request arrived
    stream: bool
    client_wants_usage: bool = False
    key_name: str | None = None
    input_chars: int = 0  # RequestFeatures.input_chars, reported with each outcome
    protocol: str | None = None  # the client's API (gateway.protocols), recorded with each attempt


@dataclass(slots=True)
class CompletedCall:
    """A non-streamed answer and who gave it."""

    content: bytes
    backend: str
    cost_usd: float | None
    overhead_ms: float


@dataclass(slots=True)
class OpenedStream:
    """A stream committed to one backend: its first content is ready, the rest follows."""

    events: AsyncIterator[bytes]
    backend: str
    overhead_ms: float
    abandon: Callable[[], Awaitable[None]]  # call when `events` is closed: reports the attempt if it never started


T = TypeVar("T")
Durable = Callable[[], Awaitable[object]]  # returns once every attempt reported so far is stored


async def _nothing_to_store() -> None:
    return None


@dataclass(slots=True)
class _Success(Generic[T]):
    """The attempt that worked: which, when, and what `call` returned."""

    attempt: int
    entry: BackendEntry
    result: T
    began: float
    wall: float
    done: float
    overhead_ms: float
    tried: tuple[str, ...]


_COUNT_BATCH = 32  # relayed chunks whose deltas are counted together (one join and a few scans per batch)


def _deltas(events: bytes) -> int:
    """Non-empty text and reasoning deltas in SSE bytes: about one token each (engines stream a token
    per event); the estimate billed when a client leaves before the upstream's usage arrives.

    Counts `"content":"` and `"reasoning_content":"` keys (also written with a space after the
    colon), less those holding an empty string; a few C-level scans instead of a regex.
    """
    count = events.count(b'"content":"') + events.count(b'"reasoning_content":"')
    if events.count(b'content":""'):
        count -= events.count(b'"content":""') + events.count(b'"reasoning_content":""')
    if events.count(b'content": "'):
        count += (events.count(b'"content": "') + events.count(b'"reasoning_content": "')
                  - events.count(b'"content": ""') - events.count(b'"reasoning_content": ""'))
    return count


def _cost_usd(entry: BackendEntry, usage: Usage | None) -> float | None:
    if usage is None or entry.price is None:
        return None
    return entry.price.cost_usd(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)


class Dispatcher:
    """Tries backends for requests according to the runtime's policy."""

    def __init__(self, runtime: GatewayRuntime, *, durable: Durable | None = None, decisions: DecisionLog | None = None,
                 affinity: AffinityStore | None = None) -> None:
        self.runtime = runtime
        self.durable = durable or _nothing_to_store
        self.decisions = decisions  # keeps each request's decision for the console's explanations
        self.affinity = affinity  # where the backend that served an affinity key is recorded

    async def _remember_affinity(self, request: DispatchRequest, backend: str) -> None:
        """The backend that just served the request's affinity key serves it next time (the key moves with it)."""
        verdict = request.decision.affinity
        if self.affinity is not None and verdict is not None and verdict.key is not None:
            await self.affinity.remember(verdict.key, backend, verdict.ttl_s)

    def _chain(self, request: DispatchRequest) -> list[BackendEntry]:
        backends = self.runtime.backends
        return [backends[name] for name in request.decision.chain[: self.runtime.max_attempts] if name in backends]

    def _report(
        self, request: DispatchRequest, attempt: int, entry: BackendEntry, *, began: float, wall: float,
        ok: bool, status: int, error_kind: str | None, ttft_s: float | None, usage: Usage | None, tried: tuple[str, ...],
    ) -> float | None:
        now = time.perf_counter()
        cost = _cost_usd(entry, usage)
        self.runtime.hub.publish(
            AttemptOutcome(
                request_id=request.request_id, attempt=attempt, backend=entry.backend.name,
                route=request.decision.route, upstream_model=entry.backend.model, streamed=request.stream,
                ok=ok, status=status, error_kind=error_kind, latency_ms=(now - began) * 1000,
                ttft_ms=None if ttft_s is None else (ttft_s - began) * 1000, usage=usage, cost_usd=cost,
                started_at=wall, key_name=request.key_name, input_chars=request.input_chars, tried=tried,
                protocol=request.protocol,
                thinking=request.decision.thinking, thinking_source=request.decision.thinking_source,
            )
        )
        return cost

    def _give_up(self, last: UpstreamError | None, tried: tuple[str, ...]) -> UpstreamFailedError:
        if last is None:
            return UpstreamFailedError(
                "no configured backend is available for this request", status=503, code="no_backend_available", retryable=True
            )
        headers = {"retry-after": f"{last.retry_after_s:g}"} if last.retry_after_s else None
        return UpstreamFailedError(
            f"{last.message} (tried: {', '.join(tried)})", status=last.status, code=last.code, retryable=last.retryable,
            headers=headers,
        )

    def _falls_back(self, exc: UpstreamError) -> bool:
        return exc.retryable and exc.kind in self.runtime.fallback_on

    async def _first_success(
        self, request: DispatchRequest, call: Callable[[Backend, dict[str, Any]], Awaitable[T]]
    ) -> _Success[T]:
        """Try the chain until `call` succeeds on a backend; report every failed attempt.

        A backend whose circuit is open (or whose half-open trial is taken) since the decision
        was made is skipped without an attempt, unless the decision is in panic mode.
        """
        if self.decisions is not None:
            self.decisions.remember(request.request_id, request.decision)
        upstream_s = 0.0
        last: UpstreamError | None = None
        state = self.runtime.state
        tried: tuple[str, ...] = ()
        for attempt, entry in enumerate(self._chain(request), start=1):
            backend = entry.backend
            body = backend.build_body(request.body, thinking=request.decision.thinking, stream=request.stream)
            if not state.admit(backend.name, request.request_id) and not request.decision.panic:
                continue  # in panic mode (every circuit open) the engine chose to try them anyway
            state.attempt_started(backend.name)
            tried += (backend.name,)
            wall, began = time.time(), time.perf_counter()
            try:
                result = await call(backend, body)
            except UpstreamError as exc:
                upstream_s += time.perf_counter() - began
                self._report(request, attempt, entry, began=began, wall=wall, ok=False, status=exc.upstream_status or exc.status,
                             error_kind=exc.kind, ttft_s=None, usage=None, tried=tried)
                last = exc
                if self._falls_back(exc):
                    continue
                break
            except BaseException:
                self._report(request, attempt, entry, began=began, wall=wall, ok=False, status=499,
                             error_kind="client_disconnected", ttft_s=None, usage=None, tried=tried)
                raise
            done = time.perf_counter()
            overhead_ms = ((done - request.started) - (upstream_s + done - began)) * 1000
            return _Success(attempt, entry, result, began, wall, done, overhead_ms, tried)
        raise self._give_up(last, tried)

    async def _first_success_stored(
        self, request: DispatchRequest, call: Callable[[Backend, dict[str, Any]], Awaitable[T]]
    ) -> _Success[T]:
        """`_first_success`, and when every backend failed, the failed attempts stored before the error goes out."""
        try:
            return await self._first_success(request, call)
        except GatewayError:
            await self.durable()
            raise

    async def complete(self, request: DispatchRequest) -> CompletedCall:
        """Non-streaming: the first backend that answers wins."""
        won = await self._first_success_stored(request, lambda backend, body: backend.complete(body, request.path))
        response = won.result
        cost = self._report(request, won.attempt, won.entry, began=won.began, wall=won.wall, ok=True, status=response.status,
                            error_kind=None, ttft_s=None, usage=response.usage, tried=won.tried)
        await self._remember_affinity(request, won.entry.backend.name)
        await self.durable()
        return CompletedCall(content=response.content, backend=won.entry.backend.name, cost_usd=cost, overhead_ms=won.overhead_ms)

    async def open_stream(self, request: DispatchRequest) -> OpenedStream:
        """Streaming: try backends until one produces its first content, then commit to it."""

        async def first_content(backend: Backend, body: dict[str, Any]) -> tuple[UpstreamStream, bytes]:
            stream = backend.stream(body, request.path, client_wants_usage=request.client_wants_usage)
            try:
                return stream, await stream.__anext__()
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                raise

        won = await self._first_success_stored(request, first_content)
        stream, first = won.result
        started: list[bool] = []  # appended to when the relay runs

        async def abandon() -> None:
            """The client left before the relay ran (its generator closed unstarted, so its own clean-up never runs)."""
            if not started:
                started.append(True)
                self._report_stream(request, won, stream, ok=False, status=200, kind="client_disconnected")
                with anyio.CancelScope(shield=True):
                    await stream.aclose()

        events = self._relay(request, won, stream, first, started)
        return OpenedStream(events=events, backend=won.entry.backend.name, overhead_ms=won.overhead_ms, abandon=abandon)

    def _report_stream(self, request: DispatchRequest, won: _Success[Any], stream: UpstreamStream, *, ok: bool,
                       status: int, kind: str | None) -> None:
        self._report(request, won.attempt, won.entry, began=won.began, wall=won.wall, ok=ok, status=status,
                     error_kind=kind, ttft_s=won.done, usage=stream.usage, tried=won.tried)

    async def _relay(self, request: DispatchRequest, won: _Success[Any], stream: UpstreamStream, first: bytes,
                     started: list[bool]) -> AsyncIterator[bytes]:
        """Relay the committed stream; its record is stored before `data: [DONE]` (or the error event) goes out."""
        if started:  # abandoned before it ran
            return
        started.append(True)

        def report(ok: bool, status: int, kind: str | None) -> None:
            self._report_stream(request, won, stream, ok=ok, status=status, kind=kind)

        done_event = b""
        relayed_tokens = 0  # estimated from the deltas sent; billed only if the upstream's usage never arrives
        uncounted: list[bytes] = []  # relayed chunks not yet in relayed_tokens (counted in batches: cheaper)
        try:
            chunk = first
            while True:
                if chunk.endswith(DONE_EVENT):
                    chunk, done_event = chunk[: -len(DONE_EVENT)], DONE_EVENT
                if chunk:
                    uncounted.append(chunk)
                    if len(uncounted) == _COUNT_BATCH:
                        relayed_tokens += _deltas(b"".join(uncounted))
                        uncounted.clear()
                    yield chunk
                try:
                    chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
        except UpstreamError as exc:
            report(False, exc.upstream_status or exc.status, exc.kind)
            log.warning("request %s: backend %s failed mid-stream: %s", request.request_id, won.entry.backend.name, exc.message)
            await self.durable()
            message = f"backend {won.entry.backend.name} failed mid-stream: {exc.message}"
            yield b"event: error\ndata: " + error_body(message, "upstream_error", None, "midstream") + b"\n\n"
            return
        except BaseException:  # the client went away (GeneratorExit, cancellation)
            if stream.usage is None:  # bill what it was sent: prompt as routing estimated it, deltas relayed
                relayed_tokens += _deltas(b"".join(uncounted))
                stream.usage = Usage(prompt_tokens=request.decision.input_tokens, completion_tokens=relayed_tokens,
                                     estimated=True)
            report(False, 200, "client_disconnected")
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
        report(True, 200, None)
        await self._remember_affinity(request, won.entry.backend.name)
        await self.durable()
        if done_event:
            yield done_event
