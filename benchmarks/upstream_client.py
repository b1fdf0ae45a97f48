"""Which HTTP client should the gateway use to call an upstream? Each candidate, measured alike.

Usage: .venv/bin/python benchmarks/upstream_client.py [--requests N] [--rounds R] [--clients 1,32] [--json FILE]

Starts the minimal zero-delay upstream (benchmarks/harness/upstream.py) in its own process and,
in this process on uvloop (as the gateway runs), drives each candidate client against it:
non-streaming and SSE streaming (20 chunks), at 1 and 32 concurrent callers, one pooled client
per candidate as the gateway keeps one per backend. Candidates: httpx.AsyncClient configured as
the gateway had it, httpcore's AsyncConnectionPool directly, aiohttp's ClientSession, and
`backends.http11.Http11Pool`. Rounds are interleaved (each candidate once per round, rotated)
so drift on a shared machine hits all alike. Prints requests/s and this process's CPU time per
request (the client's whole cost: the upstream runs elsewhere). Loopback only, bounded in
requests, and the upstream is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from benchmarks.harness.entry import log, run_script  # noqa: E402
from benchmarks.harness.eventloop import run_blocking  # noqa: E402
from benchmarks.harness.processes import LOOPBACK, ProcessGroup  # noqa: E402
from benchmarks.harness.stack import start_minimal_upstream  # noqa: E402

_HEADERS = {"content-type": "application/json", "accept": "application/json", "authorization": "Bearer sk-bench"}
_MESSAGES = [{"role": "user", "content": "Say hello in twenty words."}]
_DONE = b"data: [DONE]"


class ClientResult(BaseModel):
    """One candidate in one scenario, summed over rounds."""

    candidate: str
    scenario: str
    requests: int
    errors: int
    rps: float
    cpu_us_per_request: float


class _Candidate:
    """One client under test: a non-streaming call and a streaming call returning the body bytes."""

    name = ""

    async def complete(self, path: str, body: bytes) -> bytes:
        raise NotImplementedError

    async def stream(self, path: str, body: bytes) -> bytes:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError


class _Httpx(_Candidate):
    name = "httpx"

    def __init__(self, base_url: str, max_connections: int) -> None:
        import httpx

        self._client = httpx.AsyncClient(
            base_url=base_url, headers=_HEADERS, timeout=httpx.Timeout(900.0, connect=5.0), follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30.0),
        )
        self._stream_timeout = httpx.Timeout(60.0, connect=5.0)

    async def complete(self, path: str, body: bytes) -> bytes:
        response = await self._client.post(path, content=body)
        return response.content if response.status_code == 200 else b""

    async def stream(self, path: str, body: bytes) -> bytes:
        request = self._client.build_request("POST", path, content=body, timeout=self._stream_timeout)
        response = await self._client.send(request, stream=True)
        try:
            return b"".join([chunk async for chunk in response.aiter_bytes()])
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()


class _Httpcore(_Candidate):
    name = "httpcore"

    def __init__(self, base_url: str, max_connections: int) -> None:
        import httpcore

        self._base = base_url
        self._pool = httpcore.AsyncConnectionPool(max_connections=max_connections, keepalive_expiry=30.0)
        self._headers = list(_HEADERS.items())
        self._extensions = {"timeout": {"connect": 5.0, "read": 60.0, "write": 60.0, "pool": 60.0}}

    async def complete(self, path: str, body: bytes) -> bytes:
        response = await self._pool.request("POST", self._base + path, headers=self._headers, content=body, extensions=self._extensions)
        return response.content if response.status == 200 else b""

    async def stream(self, path: str, body: bytes) -> bytes:
        async with self._pool.stream("POST", self._base + path, headers=self._headers, content=body, extensions=self._extensions) as response:
            return b"".join([chunk async for chunk in response.aiter_stream()])

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Aiohttp(_Candidate):
    name = "aiohttp"

    def __init__(self, base_url: str, max_connections: int) -> None:
        import aiohttp

        self._base = base_url
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30.0), headers=_HEADERS,
            timeout=aiohttp.ClientTimeout(total=900.0, connect=5.0, sock_read=60.0), auto_decompress=False,
        )

    async def complete(self, path: str, body: bytes) -> bytes:
        async with self._session.post(self._base + path, data=body, allow_redirects=False) as response:
            content = await response.read()
            return content if response.status == 200 else b""

    async def stream(self, path: str, body: bytes) -> bytes:
        async with self._session.post(self._base + path, data=body, allow_redirects=False) as response:
            return b"".join([chunk async for chunk in response.content.iter_any()])

    async def aclose(self) -> None:
        await self._session.close()


class _Http11(_Candidate):
    name = "http11"

    def __init__(self, base_url: str, max_connections: int) -> None:
        from backends.http11 import Http11Pool

        self._pool = Http11Pool(base_url, _HEADERS, name="bench", max_connections=max_connections, connect_timeout_s=5.0)

    async def complete(self, path: str, body: bytes) -> bytes:
        response = await self._pool.request(path, body, timeout_s=900.0)
        return response.body if response.status == 200 else b""

    async def stream(self, path: str, body: bytes) -> bytes:
        response = await self._pool.stream(path, body, read_timeout_s=60.0)
        try:
            return await response.read()
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._pool.aclose()


CANDIDATES: dict[str, type[_Candidate]] = {c.name: c for c in (_Httpx, _Httpcore, _Aiohttp, _Http11)}


async def _drive(call: Callable[[], Awaitable[bytes]], ok: Callable[[bytes], bool], requests: int, clients: int) -> tuple[int, float, float]:
    """Run `requests` calls from `clients` concurrent callers: (errors, wall s, CPU s)."""
    remaining = requests
    errors = 0

    async def caller() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            try:
                if not ok(await call()):
                    errors += 1
            except Exception:  # noqa: BLE001 - a benchmark counts failures, whatever they are
                errors += 1

    cpu_start, wall_start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return errors, time.perf_counter() - wall_start, time.process_time() - cpu_start


async def measure(base_url: str, names: list[str], clients_list: list[int], requests: int, rounds: int, warmup: int) -> list[ClientResult]:
    """Every candidate in every scenario, interleaved by round."""
    path = "/chat/completions"
    bodies = {
        "non-stream": orjson.dumps({"model": "m", "messages": _MESSAGES, "max_tokens": 20}),
        "stream": orjson.dumps({"model": "m", "messages": _MESSAGES, "max_tokens": 20, "stream": True}),
    }
    checks: dict[str, Callable[[bytes], bool]] = {"non-stream": lambda b: b'"choices"' in b, "stream": lambda b: _DONE in b}
    results: list[ClientResult] = []
    for clients in clients_list:
        candidates = [CANDIDATES[n](base_url, max(clients, 1)) for n in names]
        try:
            for mode in ("non-stream", "stream"):
                scenario = f"{mode} c{clients}"
                body, ok = bodies[mode], checks[mode]
                totals = {c.name: [0, 0, 0.0, 0.0] for c in candidates}  # requests, errors, wall, cpu
                for candidate in candidates:
                    call = _call(candidate, mode, path, body)
                    await _drive(call, ok, warmup, clients)
                for round_index in range(rounds):
                    shift = round_index % len(candidates)
                    for candidate in candidates[shift:] + candidates[:shift]:
                        errors, wall_s, cpu_s = await _drive(_call(candidate, mode, path, body), ok, requests, clients)
                        total = totals[candidate.name]
                        total[0] += requests
                        total[1] += errors
                        total[2] += wall_s
                        total[3] += cpu_s
                for name, (count, errors, wall_s, cpu_s) in totals.items():
                    results.append(ClientResult(
                        candidate=name, scenario=scenario, requests=count, errors=errors,
                        rps=round(count / wall_s, 1), cpu_us_per_request=round(cpu_s / count * 1e6, 1),
                    ))
                log(f"{scenario}: done")
        finally:
            for candidate in candidates:
                await candidate.aclose()
    return results


def _call(candidate: _Candidate, mode: str, path: str, body: bytes) -> Callable[[], Awaitable[bytes]]:
    method = candidate.complete if mode == "non-stream" else candidate.stream
    return lambda: method(path, body)


def format_table(results: list[ClientResult]) -> str:
    lines = [f"{'scenario':<14} {'client':<9} {'RPS':>8} {'CPU us/req':>11} {'reqs':>6} {'errors':>6}"]
    for r in results:
        lines.append(f"{r.scenario:<14} {r.candidate:<9} {r.rps:>8.0f} {r.cpu_us_per_request:>11.1f} {r.requests:>6} {r.errors:>6}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        log(f"upstream_client: unknown candidate(s) {', '.join(unknown)}; valid: {', '.join(CANDIDATES)}")
        return 2
    clients_list = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="switchyard-client-bench-") as tmp, ProcessGroup(Path(tmp)) as group:
        upstream = start_minimal_upstream(group)
        base_url = f"http://{LOOPBACK}:{upstream.port}/v1"
        results = run_blocking(lambda: measure(base_url, names, clients_list, args.requests, args.rounds, args.warmup))
    print(format_table(results))
    if args.json:
        Path(args.json).write_bytes(orjson.dumps([r.model_dump() for r in results], option=orjson.OPT_INDENT_2))
    return 1 if any(r.errors for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per candidate, scenario and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", default="1,32", help="comma-separated concurrency levels")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--json", help="also write the results here")
    return run_script("upstream_client", run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
