"""The emulator timed by the planner: continuous batching in real time (`gateway emulate --planner-*`).

Requests run on the same `planner.simulate.replica.ReplicaSim` that `gateway simulate` uses for a
self-hosted backend, with the event loop's clock as its clock: a step lasts what the planner's step
model says for the batch running at that moment, the queue and KV cache fill as they would, and
/metrics reports the replica's own queue, running count and KV usage. So a live gateway in front
of this emulator and `gateway simulate` on the same deployment see the same figures.
`time_scale` < 1 runs everything faster (0.5: every step takes half as long), for short tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from planner.simulate.replica import ReplicaLoad, ReplicaRequest, ReplicaSim
from planner.simulate.step_model import ReplicaTiming

__all__ = ["BatchedEngine", "BatchedRequest"]


class BatchedRequest:
    """One request on the engine: await `first_token`, then `done`; `cancel()` if the client leaves."""

    __slots__ = ("engine", "request", "first_token", "done")

    def __init__(self, engine: BatchedEngine, request: ReplicaRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.request = request
        self.first_token: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()

    def token_interval_s(self) -> float:
        """Wall seconds between two of its tokens at the batch's current pace."""
        return self.engine.replica.step_s(self.request) * self.engine.time_scale

    def cancel(self) -> None:
        if not self.done.done():
            self.engine.replica.cancel(self.request, self.engine.now_s())
            for future in (self.first_token, self.done):
                if not future.done():
                    future.cancel()


class BatchedEngine:
    """A replica of a planner-timed deployment, stepping on the running event loop."""

    def __init__(self, timing: ReplicaTiming, time_scale: float = 1.0) -> None:
        self.timing = timing
        self.time_scale = time_scale
        self.replica = ReplicaSim(timing, self, self._schedule)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start = 0.0

    def _clock(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._start = self._loop.time()
        return self._loop

    def now_s(self) -> float:
        """Simulated seconds since the engine first ran."""
        return (self._clock().time() - self._start) / self.time_scale

    def _schedule(self, at_s: float, callback: Callable[[Any], None], arg: Any) -> None:
        self._clock().call_at(self._start + at_s * self.time_scale, callback, arg)

    def submit(self, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0) -> BatchedRequest:
        loop = self._clock()
        request = ReplicaRequest(prompt_tokens, output_tokens, cached_tokens)
        handle = BatchedRequest(self, request, loop)
        request.tag = handle
        self.replica.submit(request, self.now_s())
        return handle

    def load(self) -> ReplicaLoad:
        return self.replica.load(self.now_s())

    # ReplicaListener
    def first_token(self, request: ReplicaRequest, at_s: float) -> None:
        future = request.tag.first_token  # type: ignore[union-attr]
        if not future.done():
            future.set_result(None)

    def finished(self, request: ReplicaRequest, at_s: float) -> None:
        for future in (request.tag.first_token, request.tag.done):  # type: ignore[union-attr]
            if not future.done():
                future.set_result(None)

    def rejected(self, request: ReplicaRequest, at_s: float, reason: str) -> None:
        for future in (request.tag.first_token, request.tag.done):  # type: ignore[union-attr]
            if not future.done():
                future.set_exception(ValueError(reason))
