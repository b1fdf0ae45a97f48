"""Send a trace to a live gateway, each request at its arrival time (`gateway trace replay`).

A record without a `body` becomes a chat completion whose prompt is `input_tokens` long as the
emulator counts tokens (about 4 characters each, plus 4 per message and 3 to prime the reply) and
whose `max_tokens` is its `output_tokens`, so an emulated backend answers with exactly that many
tokens. Prompts are seeded word salad, different per record (no accidental prefix-cache hits);
`stream`, `thinking` (as `reasoning_effort`), `tools` and `headers` are sent as recorded.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from gateway.simulate.trace_bodies import chat_body, recorded_body
from planner.trace.record import Trace, TraceRecord

__all__ = ["ReplaySummary", "replay_trace", "request_body", "CHAT_OVERHEAD_TOKENS"]

CHAT_OVERHEAD_TOKENS = 7
"""Tokens the emulator adds to a one-message chat prompt: 4 for the message, 3 to prime the reply."""
_WORDS = ("alpha", "bravo", "delta", "gamma", "omega", "sigma", "kappa", "lambda", "theta", "zeta")


class ReplaySummary(BaseModel):
    """What came back from the gateway."""

    model_config = ConfigDict(extra="forbid")

    requests: int
    ok: int
    failed: int
    by_backend: dict[str, int]
    by_status: dict[str, int]
    wall_s: float

    def render(self) -> str:
        backends = ", ".join(f"{name} {count:,}" for name, count in sorted(self.by_backend.items()))
        statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(self.by_status.items()))
        return (f"replayed {self.requests:,} requests in {self.wall_s:,.1f} s: {self.ok:,} ok, {self.failed:,} failed\n"
                f"served by: {backends or '-'}\nstatus: {statuses}\n")


def _prompt(tokens: int, rng: random.Random) -> str:
    chars = max(1, 4 * (tokens - CHAT_OVERHEAD_TOKENS))
    words: list[str] = []
    length = 0
    while length < chars:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:chars]


def request_body(record: TraceRecord, index: int, *, default_model: str, seed: int = 0) -> dict[str, Any]:
    """The chat-completions body replayed for `record` (its own `body`, when it has one)."""
    body = recorded_body(record, record.model or default_model)
    if body is not None:
        return body
    rng = random.Random(seed * 1_000_003 + index)
    return chat_body(record, record.model or default_model, content=_prompt(record.prompt_tokens, rng),
                     max_tokens=max(1, record.output_tokens))


async def _send(client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, str | None]:
    try:
        if body.get("stream"):
            async with client.stream("POST", url, json=body, headers=headers) as response:
                async for _ in response.aiter_lines():
                    pass
                return response.status_code, response.headers.get("x-switchyard-backend")
        response = await client.post(url, json=body, headers=headers)
        return response.status_code, response.headers.get("x-switchyard-backend")
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__


async def replay_trace(trace: Trace, base_url: str, *, api_key: str = "unused", time_scale: float = 1.0,
                       default_model: str = "auto", seed: int = 0, timeout_s: float = 900.0) -> ReplaySummary:
    """Send every record at `t x time_scale` seconds from now; wait for every answer."""
    url = base_url.rstrip("/") + "/chat/completions"
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    loop = asyncio.get_running_loop()
    results: list[tuple[int, str | None]] = []
    began = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(timeout_s, connect=10.0)) as client:
        start = loop.time()
        tasks = []
        for index, record in enumerate(trace.records):
            delay = start + record.t * time_scale - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {"authorization": f"Bearer {api_key}", **(record.headers or {})}
            body = request_body(record, index, default_model=default_model, seed=seed)
            tasks.append(asyncio.create_task(_send(client, url, body, headers)))
        results = list(await asyncio.gather(*tasks))
    statuses = Counter(str(status) for status, _ in results)
    ok = sum(1 for status, _ in results if status == 200)
    backends = Counter(backend for status, backend in results if status == 200 and backend)
    return ReplaySummary(requests=len(results), ok=ok, failed=len(results) - ok, by_backend=dict(backends),
                         by_status=dict(statuses), wall_s=round(time.perf_counter() - began, 3))
