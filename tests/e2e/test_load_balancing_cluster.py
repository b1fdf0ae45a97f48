"""Two gateway processes sharing one Redis balance three emulated vLLM replicas as one gateway: each
sees the requests the other has in flight (`prefer: least_loaded`), and a conversation whose turns
alternate between the two gateways stays on one replica (`affinity:`)."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.gateway.accounting_fixtures import delete_prefixed_keys, unique_prefix

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ADMIN_KEY = "admin-balance-secret"
REPLICAS = ("r1", "r2", "r3")
SYSTEM = "You are the booking assistant of a rail company; quote the fare rules by number. " * 10


def cluster_policy(urls: dict[str, str]) -> str:
    backends = "\n".join(f"""  {name}:
    type: vllm
    base_url: {url}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    timeouts: {{connect_s: 1, first_token_s: 5, total_s: 60}}""" for name, url in urls.items())
    return f"""
version: 1
backends:
{backends}
models:
  pool: {{}}
  sticky: {{}}
routes:
  - {{name: pool, when: {{model: pool}}, use: [r1, r2, r3], prefer: least_loaded}}
  - {{name: sticky, when: {{model: sticky}}, use: [r1, r2, r3], prefer: least_loaded, affinity: {{key: prefix}}}}
"""


@pytest.fixture(scope="module")
def cluster(servers: Any, redis_url: str) -> Any:
    replicas = {name: servers.emulator("vllm", "--ttft-ms", "10", "--tpot-ms", "1", name=name) for name in REPLICAS}
    prefix = unique_prefix()
    env = {"SWITCHYARD_REDIS_URL": redis_url, "SWITCHYARD_REDIS_PREFIX": prefix, "SWITCHYARD_ADMIN_KEY": ADMIN_KEY}
    policy = cluster_policy({name: e.v1 for name, e in replicas.items()})
    gateways = [servers.gateway(policy, env={**env, "SWITCHYARD_REPLICA_ID": f"gw-{n}"}) for n in range(2)]
    yield {"gateways": gateways, "replicas": replicas}
    delete_prefixed_keys(redis_url, prefix)


def _in_flight(gateway: Any) -> dict[str, int]:
    status = httpx.get(f"{gateway.url}/admin/status", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=10).json()
    return {name: backend["in_flight"] for name, backend in status["backends"].items()}


def _set_tpot(cluster: Any, tpot_ms: float) -> None:
    for emulator in cluster["replicas"].values():
        httpx.post(f"{emulator.url}/_emulator/config", json={"tpot_ms": tpot_ms}).raise_for_status()


def test_each_gateway_counts_the_requests_the_other_has_in_flight(cluster):
    one, two = cluster["gateways"]
    body = {"model": "pool", "messages": [{"role": "user", "content": "Long answer, please."}], "max_tokens": 200,
            "stream": True}
    _set_tpot(cluster, 200)  # each stream lasts ~40 s unless closed
    try:
        with ExitStack() as streams:
            held, readers = Counter(), []
            for _ in range(4):
                response = streams.enter_context(httpx.stream("POST", f"{one.v1}/chat/completions", json=body, timeout=30))
                readers.append(response.iter_raw())  # kept: a dropped reader closes its stream
                next(readers[-1])  # its first content arrived: the attempt is in flight
                held[response.headers["x-switchyard-backend"]] += 1
            expected = {name: held.get(name, 0) for name in REPLICAS}
            assert sorted(expected.values()) == [1, 1, 2]  # gateway one spread its own four
            assert wait_for(lambda: _in_flight(two) == expected, "gateway two to see gateway one's streams")
            report = httpx.post(f"{two.v1}/route/explain", json={**body, "stream": False}, timeout=10).json()
            print(f"\ngateway two, explain while gateway one holds {expected}: "
                  f"{[(c['backend'], c['reason']) for c in report['candidates']]}")
            assert expected[report["chain"][0]] == 1 and expected[report["chain"][-1]] == 2
            busiest = max(expected, key=expected.__getitem__)
            assert any(c["backend"] == busiest and "in_flight 2 " in c["reason"] for c in report["candidates"])
    finally:
        _set_tpot(cluster, 1)
    assert wait_for(lambda: set(_in_flight(two).values()) == {0}, "gateway two to see the streams closed")


def test_a_conversation_alternating_between_gateways_stays_on_one_replica(cluster):
    clients = [openai.OpenAI(base_url=g.v1, api_key="sk-client", max_retries=0) for g in cluster["gateways"]]
    homes = []
    for n in range(6):
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                          {"role": "user", "content": f"Journey {n}: Paris to Lyon on Friday."}]
        served = []
        for turn in range(4):
            gateway = cluster["gateways"][(n + turn) % 2]
            if turn:
                report = httpx.post(f"{gateway.v1}/route/explain", json={"model": "sticky", "messages": messages},
                                    timeout=10).json()
                assert report["affinity"]["remembered"] == served[0] and report["affinity"]["honoured"]
            raw = clients[(n + turn) % 2].chat.completions.with_raw_response.create(
                model="sticky", messages=messages, max_tokens=12)
            served.append(raw.headers["x-switchyard-backend"])
            messages += [{"role": "assistant", "content": raw.parse().choices[0].message.content},
                         {"role": "user", "content": f"Turn {turn + 1}: and a return on Sunday?"}]
        assert len(set(served)) == 1, served
        homes.append(served[0])
    print(f"\n6 conversations alternating between two gateways, per replica: {dict(Counter(homes))}")
