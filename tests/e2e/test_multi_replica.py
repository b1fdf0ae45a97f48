"""Three gateway processes on one Redis and one emulator act as one gateway.

Budgets and rate limits hold across replicas, a circuit opened by one replica is open on all (and,
as the route's only backend, still tried in panic mode), a
replica SIGKILLed mid-load loses no ledger record of a response its client saw complete, and a
gateway whose Redis stops keeps serving on local state and resynchronises when Redis returns.
The official openai SDK is the client; the shared ledger is read straight from its SQLite file.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis

from gateway.ledger.sqlite_sink import SqliteLedger
from tests.conftest import ROOT, free_port, wait_for
from tests.gateway.accounting_fixtures import RedisServer, delete_prefixed_keys, unique_prefix

pytestmark = pytest.mark.redis

ADMIN_KEY = "admin-multi-secret"
KEYS = {"capped": "sk-multi-capped", "paced": "sk-multi-paced", "loader": "sk-multi-loader"}
BUDGET_USD = 0.0002
RPM = 6
CONCURRENCY = 12
HELLO = [{"role": "user", "content": "Say hello."}]
POLL_S = 0.05  # between two reads of a ledger file (a local file, so wait_for would spin)


def read_ledger(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the ledger file, after a short pause (called in polling loops)."""
    time.sleep(POLL_S)
    ledger = SqliteLedger(path)
    try:
        return ledger.query(sql, params)
    finally:
        ledger.close()


def _sha(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def cluster_policy(emulator_url: str) -> str:
    """`deepseek` serves every key; `flaky` (the same emulator under another name) is the one tests fail."""
    upstream = f"""type: deepseek
    base_url: {emulator_url}
    api_key: sk-deepseek-provider-secret
    model: deepseek-v4-flash
    family: deepseek-v3.2
    price: {{input_usd_per_mtok: 0.28, cached_input_usd_per_mtok: 0.028, output_usd_per_mtok: 0.42}}"""
    return f"""
version: 1
backends:
  deepseek:
    {upstream}
  flaky:
    {upstream}
models:
  auto: {{}}
  via-flaky: {{}}
routes:
  - {{name: flaky, when: {{model: via-flaky}}, use: [flaky]}}
  - {{name: default, use: [deepseek]}}
fallback:
  circuit_breaker: {{consecutive_failures: 2, minimum_attempts: 2, window_attempts: 4, cooldown_s: 120}}
keys:
  - {{name: capped, sha256: "{_sha(KEYS['capped'])}", budgets: {{total_usd: {BUDGET_USD}}}}}
  - {{name: paced, sha256: "{_sha(KEYS['paced'])}", rpm: {RPM}}}
  - {{name: loader, sha256: "{_sha(KEYS['loader'])}"}}
"""


@pytest.fixture(scope="module")
def redis_prefix(redis_url: str) -> Iterator[str]:
    value = unique_prefix()
    yield value
    delete_prefixed_keys(redis_url, value)


@dataclass
class Cluster:
    servers: Any
    emulator: Any
    policy: str
    env: dict[str, str]
    ledger_path: Path
    gateways: list[Any] = field(default_factory=list)

    def start(self, replica: int) -> Any:
        return self.servers.gateway(self.policy, env={**self.env, "SWITCHYARD_REPLICA_ID": f"replica-{replica}"})

    def client(self, index: int, key: str) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.gateways[index].v1, api_key=KEYS[key], max_retries=0)

    def stored(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return read_ledger(self.ledger_path, sql, *params)


@pytest.fixture(scope="module")
def cluster(servers: Any, redis_url: str, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    emulator = servers.emulator("deepseek", "--seed", "11")
    ledger_path = tmp_path_factory.mktemp("cluster") / "ledger.sqlite3"
    env = {
        "SWITCHYARD_REDIS_URL": redis_url, "SWITCHYARD_REDIS_PREFIX": redis_prefix, "SWITCHYARD_ADMIN_KEY": ADMIN_KEY,
        "SWITCHYARD_LEDGER_PATH": str(ledger_path), "SWITCHYARD_LEDGER_DRAIN_INTERVAL_S": "0.2",
        "SWITCHYARD_LEDGER_CLAIM_IDLE_S": "1", "SWITCHYARD_KEYS_REFRESH_S": "0.3",
    }
    cluster = Cluster(servers, emulator, cluster_policy(emulator.v1), env, ledger_path)
    cluster.gateways = [cluster.start(replica) for replica in range(3)]
    return cluster


async def _chat(client: openai.AsyncOpenAI, **extra: Any) -> Any:
    return await client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=16, **extra)


async def test_the_budget_is_not_overspent_beyond_the_requests_in_flight(cluster):
    clients = [cluster.client(i, "capped") for i in range(3)]
    gate = asyncio.Semaphore(CONCURRENCY)
    outcomes: list[str] = []

    async def one(n: int) -> None:
        async with gate:
            try:
                await _chat(clients[n % 3])
                outcomes.append("ok")
            except openai.RateLimitError as exc:
                outcomes.append(str(exc.code))

    await asyncio.gather(*(one(n) for n in range(48)))
    served = outcomes.count("ok")
    assert served > 0 and set(outcomes) == {"ok", "budget_exceeded"}

    def drained() -> list[tuple[int]] | None:
        rows = cluster.stored("SELECT cost_nano_usd FROM usage WHERE key_name = 'capped'")
        return rows if len(rows) == served else None

    rows = wait_for(drained, "the capped key's records to be drained")
    spent_nano = sum(cost for (cost,) in rows)
    in_flight_bound_nano = CONCURRENCY * max(cost for (cost,) in rows)
    assert spent_nano <= BUDGET_USD * 1e9 + in_flight_bound_nano
    assert spent_nano > BUDGET_USD * 1e9 / 2  # the budget was used, not refused from the start


async def test_the_rate_limit_is_global_across_replicas(cluster):
    clients = [cluster.client(i, "paced") for i in range(3)]
    served, refused = 0, []
    for n in range(3 * RPM):
        try:
            await _chat(clients[n % 3])
            served += 1
        except openai.RateLimitError as exc:
            refused.append(exc)
    assert served == RPM
    assert {exc.code for exc in refused} == {"rate_limit_exceeded"}
    assert all(int(exc.response.headers["retry-after"]) >= 1 for exc in refused)


def test_a_key_created_in_redis_after_start_up_is_accepted_by_every_replica(cluster, redis_url, redis_prefix):
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "create", "--name", "late", "--rpm", "100", "--redis-url", redis_url,
         "--redis-prefix", redis_prefix], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    plaintext = done.stdout.strip()
    for gateway in cluster.gateways:
        def accepted(g: Any = gateway) -> bool:
            body = {"model": "auto", "messages": HELLO, "max_tokens": 4}
            return httpx.post(f"{g.v1}/chat/completions", json=body, headers={"authorization": f"Bearer {plaintext}"}).status_code == 200
        wait_for(accepted, "the replicas to pick up the new key")


def _circuit(gateway: Any, backend: str) -> str:
    status = httpx.get(f"{gateway.url}/admin/status", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()
    return status["backends"][backend]["circuit"]


async def test_a_circuit_opened_by_one_replica_is_open_on_the_others(cluster):
    assert [_circuit(g, "flaky") for g in cluster.gateways] == ["closed"] * 3
    httpx.post(f"{cluster.emulator.url}/_emulator/config", json={"fail_rate": 1.0, "fail_mode": "500"}).raise_for_status()
    try:
        client = cluster.client(0, "loader")
        for _ in range(2):
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model="via-flaky", messages=HELLO, max_tokens=4)
    finally:
        httpx.post(f"{cluster.emulator.url}/_emulator/config", json={"fail_rate": 0.0}).raise_for_status()
    for gateway in cluster.gateways[1:]:
        wait_for(lambda g=gateway: _circuit(g, "flaky") == "open", "the other replicas to see the circuit open")
    # the route has no other backend: panic mode tries it anyway rather than answer 503...
    raw = await cluster.client(2, "loader").chat.completions.with_raw_response.create(
        model="via-flaky", messages=HELLO, max_tokens=4)
    assert raw.http_response.status_code == 200 and raw.headers["x-switchyard-backend"] == "flaky"
    assert _circuit(cluster.gateways[2], "flaky") == "open"  # ...and only the half-open trial may close it
    assert _circuit(cluster.gateways[0], "deepseek") == "closed"


async def test_a_replica_killed_mid_load_loses_no_record_of_a_completed_response(cluster):
    completed: set[str] = set()
    killed = asyncio.Event()
    stop = asyncio.Event()

    async def worker(index: int, n: int) -> None:
        client = cluster.client(index, "loader")
        while not stop.is_set():
            try:
                if n % 2:
                    raw = await _chat(client, stream=True)
                    async for _ in raw.parse():
                        pass
                else:
                    raw = await _chat(client)
                completed.add(raw.headers["x-switchyard-request-id"])
            except (openai.APIConnectionError, httpx.HTTPError):
                if index == 2:
                    return  # the killed replica
                raise
            n += 1
            if len(completed) >= 30 and not killed.is_set():
                killed.set()
                cluster.gateways[2].process.send_signal(signal.SIGKILL)
            if len(completed) >= 90:
                stop.set()

    await asyncio.gather(*(worker(index, n) for index in range(3) for n in range(2)))
    assert killed.is_set()
    cluster.gateways[2].process.wait(timeout=10)
    cluster.gateways[2] = cluster.start(2)  # the same replica id takes its unfinished drain back

    def missing() -> set[str]:
        stored = {request_id for (request_id,) in cluster.stored("SELECT request_id FROM usage WHERE key_name = 'loader' AND ok = 1")}
        return completed - stored

    wait_for(lambda: not missing(), "every completed response's record in the ledger")
    assert not missing()


async def test_a_gateway_whose_redis_stops_keeps_serving_and_resynchronises(servers, cluster, tmp_path):
    server = RedisServer(tmp_path, free_port())
    server.start()
    prefix = "sytest-down:"
    ledger_path = tmp_path / "ledger.sqlite3"
    try:
        gateway = servers.gateway(cluster.policy, env={
            "SWITCHYARD_REDIS_URL": server.url, "SWITCHYARD_REDIS_PREFIX": prefix, "SWITCHYARD_LEDGER_PATH": str(ledger_path),
            "SWITCHYARD_LEDGER_DRAIN_INTERVAL_S": "0.2", "SWITCHYARD_REPLICA_ID": "lonely",
        })
        client = openai.AsyncOpenAI(base_url=gateway.v1, api_key=KEYS["paced"], max_retries=0)  # its rpm is kept in Redis

        def stored() -> int:
            return read_ledger(ledger_path, "SELECT COUNT(*) FROM usage")[0][0]

        for _ in range(3):
            await _chat(client)
        wait_for(lambda: stored() == 3, "the first records to be drained from the Redis stream")
        server.stop()
        for _ in range(3):
            await _chat(client)  # served on local state, records written to SQLite directly
        wait_for(lambda: "state: Redis unavailable" in gateway.log(), "the state store's warning")
        server.start()  # empty, as after a Redis restart without persistence
        probe = redis.Redis(port=server.port)
        wait_for(lambda: probe.zscore(f"{prefix}state:replicas", "lonely"), "the replica to publish its state again")
        probe.close()
        await _chat(client)
        wait_for(lambda: stored() == 7, "every record in the ledger")
        log = gateway.log()
        assert log.count("state: Redis unavailable") == 1
        assert log.count("Traceback") == 0
    finally:
        server.stop()
