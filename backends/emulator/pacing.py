"""When the emulator's tokens leave: fixed TTFT/TPOT with a concurrency cap, or a planner-timed batch.

`Emulator` asks a pacing for one request's timeline: wait for the first token, between tokens, and
for the end. `FixedPacing` is `--ttft-ms`/`--tpot-ms` with at most `--max-concurrency` running (the
rest queue in `LoadTracker`); `BatchedPacing` is `--planner-*`: the request runs on a
`BatchedEngine`, so its pace is the batch's, and the engine's own queue and KV cache apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from backends.emulator.batched import BatchedEngine, BatchedRequest
from backends.emulator.load import LoadTracker

__all__ = ["FixedPacing", "BatchedPacing", "RequestPace"]


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


class RequestPace:
    """One request's timeline; `slow_s` (fault mode slow) is added to every wait.

    Tokens after the first are paced on an absolute schedule (the n-th at first + n intervals), so
    the time spent writing each chunk does not add up into a slower stream than the backend's pace.
    """

    def __init__(self, ttft_s: float, tpot_s: float, slow_s: float, batched: BatchedRequest | None = None) -> None:
        self.ttft_s, self.tpot_s, self.slow_s, self.batched = ttft_s, tpot_s, slow_s, batched
        self._next_at = 0.0

    async def first_token(self) -> None:
        if self.batched is not None:
            await self.batched.first_token
            await _pause(self.slow_s)
        else:
            await _pause(self.ttft_s + self.slow_s)
        self._next_at = asyncio.get_running_loop().time()

    async def next_token(self) -> None:
        interval = self.batched.token_interval_s() if self.batched is not None else self.tpot_s
        self._next_at += interval + self.slow_s
        await _pause(self._next_at - asyncio.get_running_loop().time())

    async def rest(self, tokens: int) -> None:
        """The `tokens` after the first, all at once (a non-streamed answer)."""
        if self.batched is not None:
            await self.batched.done
            await _pause(tokens * self.slow_s)
        else:
            await _pause(tokens * (self.tpot_s + self.slow_s))

    async def end(self) -> None:
        """Wait for the last token (streams: the batch may still be decoding what was paced ahead)."""
        if self.batched is not None:
            await self.batched.done


class FixedPacing:
    """`--ttft-ms` and `--tpot-ms` (read at each request: `/_emulator/config` changes them), at most
    `max_concurrency` requests running."""

    def __init__(self, load: LoadTracker, config: Any) -> None:
        self.load, self.config = load, config

    @asynccontextmanager
    async def request(self, prompt_tokens: int, output_tokens: int, cached_tokens: int, slow_s: float) -> AsyncIterator[RequestPace]:
        async with self.load.slot():
            yield RequestPace(self.config.ttft_ms / 1000, self.config.tpot_ms / 1000, slow_s)


class BatchedPacing:
    """The planner's continuous batching (`planner.simulate.replica`), in real time."""

    def __init__(self, engine: BatchedEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def request(self, prompt_tokens: int, output_tokens: int, cached_tokens: int, slow_s: float) -> AsyncIterator[RequestPace]:
        handle = self.engine.submit(prompt_tokens, output_tokens, cached_tokens)
        try:
            yield RequestPace(0.0, 0.0, slow_s, handle)
        finally:
            handle.cancel()  # no-op once it finished; frees its slot when the client left early
