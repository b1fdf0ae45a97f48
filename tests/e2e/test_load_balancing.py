"""Three emulated vLLM replicas of one model behind one route: `prefer: least_loaded` spreads load,
`affinity:` keeps each conversation on the replica that has its prefix cached (over chat completions,
/v1/messages and /v1/responses), the emulators' prefix caches report more cached tokens with affinity
on than off, and the ledger prices cached input at the cached-input rate.

The official openai and anthropic SDKs are the clients; the ledger is read from the gateway's SQLite file.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway.ledger.sqlite_sink import SqliteLedger
from tests.conftest import wait_for

pytestmark = pytest.mark.slow

REPLICAS = ("r1", "r2", "r3")
TIMEOUTS = "{connect_s: 1, first_token_s: 5, total_s: 30}"
SYSTEM = ("You are the support assistant of a travel agency. Answer in two sentences, cite the booking rules "
          "by number, never invent prices, and ask one clarifying question when the request is ambiguous. ") * 12
DEEPSEEK_PRICE = {"input": 0.28, "cached": 0.028, "output": 0.42}  # USD/Mtok, the policy's own figures below
POLL_S = 0.05  # between two reads of the ledger file (a local file, so wait_for alone would spin)


def balancing_policy(replicas: dict[str, str], deepseek: dict[str, str]) -> str:
    vllm = "\n".join(f"""  {name}:
    type: vllm
    base_url: {url}
    model: deepseek-ai/DeepSeek-V3.2
    family: deepseek-v3.2
    timeouts: {TIMEOUTS}""" for name, url in replicas.items())
    p = DEEPSEEK_PRICE
    managed = "\n".join(f"""  {name}:
    type: deepseek
    base_url: {url}
    api_key: sk-deepseek-e2e
    model: deepseek-v4-flash
    family: deepseek-v4-flash
    price: {{input_usd_per_mtok: {p['input'] + extra}, cached_input_usd_per_mtok: {p['cached']}, output_usd_per_mtok: {p['output']}}}
    timeouts: {TIMEOUTS}""" for (name, url), extra in zip(deepseek.items(), (0.0, -0.01), strict=True))
    return f"""
version: 1
backends:
{vllm}
{managed}
models:
  pool: {{}}
  sticky: {{}}
  session: {{}}
  priced: {{}}
routes:
  - {{name: pool, when: {{model: pool}}, use: [r1, r2, r3], prefer: least_loaded}}
  - {{name: sticky, when: {{model: sticky}}, use: [r1, r2, r3], prefer: least_loaded, affinity: {{key: prefix}}}}
  - name: session
    when: {{model: session}}
    use: [r1, r2, r3]
    prefer: least_loaded
    affinity: {{key: "header:x-session-id", ttl_s: 300}}
  - {{name: priced, when: {{model: priced}}, use: [list-price, cheaper], prefer: cost, affinity: {{}}}}
fallback:
  max_attempts: 2
"""


@pytest.fixture(scope="module")
def stack(servers: Any) -> dict[str, Any]:
    replicas = {name: servers.emulator("vllm", "--ttft-ms", "20", "--tpot-ms", "2", "--seed", str(n), name=name)
                for n, name in enumerate(REPLICAS)}
    deepseek = {name: servers.emulator("deepseek", name=name) for name in ("list-price", "cheaper")}
    policy = balancing_policy({n: e.v1 for n, e in replicas.items()}, {n: e.v1 for n, e in deepseek.items()})
    gateway = servers.gateway(policy)
    ledger = Path(gateway.log_path.parent / f"ledger-{gateway.port}.sqlite3")
    return {"gateway": gateway, "replicas": replicas, "deepseek": deepseek, "ledger": ledger}


def _client(stack: dict[str, Any]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack["gateway"].v1, api_key="sk-client", max_retries=0)


def _stored(ledger: Path, request_ids: list[str]) -> list[tuple[Any, ...]] | None:
    """Ledger rows (request_id, backend, prompt, cached, completion, cost_nano_usd) once all are stored."""
    time.sleep(POLL_S)
    store = SqliteLedger(ledger)
    try:
        marks = ", ".join("?" * len(request_ids))
        rows = store.query(f"SELECT request_id, backend, prompt_tokens, cached_tokens, completion_tokens, cost_nano_usd "
                           f"FROM usage WHERE ok = 1 AND request_id IN ({marks})", tuple(request_ids))
    finally:
        store.close()
    return rows if len(rows) == len(request_ids) else None


async def _converse(client: openai.AsyncOpenAI, model: str, opening: str, turns: int = 4,
                    headers: dict[str, str] | None = None) -> list[Any]:
    """One conversation of `turns` turns, each resending the whole history; the raw responses."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": opening}]
    raws = []
    for turn in range(turns):
        raw = await client.chat.completions.with_raw_response.create(
            model=model, messages=messages, max_tokens=24, extra_headers=headers)
        raws.append(raw)
        messages += [{"role": "assistant", "content": raw.parse().choices[0].message.content},
                     {"role": "user", "content": f"Follow-up {turn + 1}: and what about the return flight?"}]
    return raws


def converse(stack: dict[str, Any], model: str, opening: str, turns: int = 4) -> list[Any]:
    """`_converse` on a client of its own event loop."""
    async def run() -> list[Any]:
        return await _converse(_client(stack), model, opening, turns)

    return asyncio.run(run())


def _cached_tokens(raw: Any) -> int:
    details = raw.parse().usage.prompt_tokens_details
    return (details.cached_tokens or 0) if details else 0


def test_least_loaded_spreads_120_requests_at_24_in_flight_over_three_replicas(stack):
    async def run() -> Counter[str]:
        client, gate = _client(stack), asyncio.Semaphore(24)

        async def one(n: int) -> str:
            async with gate:
                raw = await client.chat.completions.with_raw_response.create(
                    model="pool", messages=[{"role": "user", "content": f"Question {n}: is my visa valid?"}], max_tokens=16)
                return raw.headers["x-switchyard-backend"]

        return Counter(await asyncio.gather(*(one(n) for n in range(120))))

    served = asyncio.run(run())
    print(f"\nleast_loaded, 120 requests at 24 in flight: {dict(sorted(served.items()))}")
    assert set(served) == set(REPLICAS)
    assert min(served.values()) >= 120 / 5


def test_conversations_stay_on_one_replica_while_different_conversations_spread(stack):
    async def run() -> list[list[Any]]:
        client = _client(stack)
        return await asyncio.gather(*(_converse(client, "sticky", f"Trip {n}: I booked Lisbon for May.") for n in range(12)))

    conversations = asyncio.run(run())
    homes = []
    for raws in conversations:
        backends = {raw.headers["x-switchyard-backend"] for raw in raws}
        assert len(backends) == 1, f"a conversation moved: {[raw.headers['x-switchyard-backend'] for raw in raws]}"
        homes.append(backends.pop())
    spread = Counter(homes)
    print(f"\n12 conversations x 4 turns with affinity, conversations per replica: {dict(sorted(spread.items()))}")
    assert set(spread) == set(REPLICAS) and min(spread.values()) >= 3


def test_affinity_on_serves_more_prompt_tokens_from_the_prefix_cache_than_off(stack):
    def opening(tag: str, n: int) -> str:  # each conversation pastes its own itinerary
        return f"{tag} trip {n}: here is my itinerary. " + " ".join(f"Day {d}: Porto leg {n}-{d}." for d in range(40))

    async def run(model: str, tag: str) -> list[list[Any]]:
        client = _client(stack)
        return await asyncio.gather(*(_converse(client, model, opening(tag, n)) for n in range(12)))

    off = asyncio.run(run("pool", "off"))
    on = asyncio.run(run("sticky", "on"))
    cached_off = sum(_cached_tokens(raw) for raws in off for raw in raws)
    cached_on = sum(_cached_tokens(raw) for raws in on for raw in raws)
    prompt_on = sum(raw.parse().usage.prompt_tokens for raws in on for raw in raws)
    print(f"\nprefix-cache hits over 12 conversations x 4 turns: affinity off {cached_off} cached tokens, "
          f"affinity on {cached_on} cached tokens (of {prompt_on} prompt tokens)")
    assert cached_on > cached_off
    later_turns = [raw for raws in on for raw in raws[1:]]
    assert all(_cached_tokens(raw) > 0 for raw in later_turns)  # every later turn found its history cached

    ids = [raw.headers["x-switchyard-request-id"] for raws in on for raw in raws]
    rows = wait_for(lambda: _stored(stack["ledger"], ids), "the affinity-on records in the ledger")
    assert sum(row[3] for row in rows) == cached_on  # the ledger holds what the replicas reported


def test_explain_shows_the_remembered_replica_and_the_load_figures(stack):
    raws = converse(stack, "sticky", "Explain trip: I booked Faro.", turns=1)
    home = raws[0].headers["x-switchyard-backend"]
    body = {"model": "sticky", "max_tokens": 24, "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": "Explain trip: I booked Faro."},
        {"role": "assistant", "content": raws[0].parse().choices[0].message.content},
        {"role": "user", "content": "And the hotel?"}]}
    report = httpx.post(f"{stack['gateway'].v1}/route/explain", json=body, timeout=10).json()
    print(f"\nexplain: {report}")
    assert report["affinity"] == {"key": "prefix", "remembered": home, "honoured": True,
                                  "reason": f"{home} served this key last and is healthy and not saturated"}
    assert report["chain"][0] == home
    assert report["candidates"][0]["reason"].startswith("rank 1 by affinity, it served this key last (least_loaded: load ")
    assert all("by least_loaded (load " in c["reason"] for c in report["candidates"][1:])


def test_a_streamed_conversation_stays_on_one_replica(stack):
    client = openai.OpenAI(base_url=stack["gateway"].v1, api_key="sk-client", max_retries=0)
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Streamed trip."}]
    homes = []
    for turn in range(3):
        with client.chat.completions.with_streaming_response.create(
                model="sticky", messages=messages, max_tokens=16, stream=True) as response:
            homes.append(response.headers["x-switchyard-backend"])
            text = "".join(chunk.choices[0].delta.content or "" for chunk in response.parse() if chunk.choices)
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": f"Follow-up {turn}"}]
    assert len(set(homes)) == 1, homes


def test_a_session_header_keeps_a_session_on_one_replica_whatever_its_messages(stack):
    async def session(client: openai.AsyncOpenAI, n: int) -> set[str]:
        homes = set()
        for opening in range(3):  # three unrelated first turns: only the header ties them together
            raws = await _converse(client, "session", f"Session {n}, task {opening}", turns=1,
                                   headers={"x-session-id": f"s-{n}"})
            homes.add(raws[0].headers["x-switchyard-backend"])
        return homes

    async def run() -> list[set[str]]:
        client = _client(stack)
        return await asyncio.gather(*(session(client, n) for n in range(6)))

    assert all(len(homes) == 1 for homes in asyncio.run(run()))


def test_anthropic_messages_and_openai_responses_conversations_stay_on_one_replica(stack):
    gateway = stack["gateway"]
    claude = anthropic.Anthropic(base_url=gateway.url, api_key="sk-client", max_retries=0)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Messages trip: I booked Madeira."}]
    claude_homes = []
    for turn in range(3):
        raw = claude.messages.with_raw_response.create(model="sticky", system=SYSTEM, max_tokens=16, messages=messages)
        claude_homes.append(raw.headers["x-switchyard-backend"])
        messages += [{"role": "assistant", "content": raw.parse().content[0].text},
                     {"role": "user", "content": f"Follow-up {turn}"}]
    assert len(set(claude_homes)) == 1, claude_homes

    oai = openai.OpenAI(base_url=gateway.v1, api_key="sk-client", max_retries=0)
    previous, responses_homes = None, []
    for turn in range(3):
        raw = oai.responses.with_raw_response.create(
            model="sticky", instructions=SYSTEM, input="Responses trip: I booked the Azores." if turn == 0 else f"Follow-up {turn}",
            previous_response_id=previous, max_output_tokens=16)
        responses_homes.append(raw.headers["x-switchyard-backend"])
        previous = raw.parse().id
    assert len(set(responses_homes)) == 1, responses_homes


def test_cost_routing_stays_where_the_prefix_is_cached_and_the_ledger_bills_it_at_the_cached_rate(stack):
    """`cheaper` lists 0.01 USD/Mtok less input; a conversation that began on `list-price` (while `cheaper`
    failed) stays there, because its cached prefix at 0.028 beats 0.27 for the whole prompt elsewhere."""
    faults = f"{stack['deepseek']['cheaper'].url}/_emulator/config"
    httpx.post(faults, json={"fail_rate": 1.0, "fail_mode": "500"}).raise_for_status()
    try:
        first = converse(stack, "priced", "Priced trip: I booked Seville.", turns=1)[0]
    finally:
        httpx.post(faults, json={"fail_rate": 0.0}).raise_for_status()
    assert first.headers["x-switchyard-backend"] == "list-price"
    rest = converse(stack, "priced", "Priced trip: I booked Seville.", turns=4)
    assert [raw.headers["x-switchyard-backend"] for raw in rest] == ["list-price"] * 4
    ids = [raw.headers["x-switchyard-request-id"] for raw in rest[1:]]
    rows = wait_for(lambda: _stored(stack["ledger"], ids), "the priced turns in the ledger")
    p = DEEPSEEK_PRICE
    for _, backend, prompt, cached, completion, cost_nano_usd in rows:
        assert backend == "list-price" and cached > 0
        expected = ((prompt - cached) * p["input"] + cached * p["cached"] + completion * p["output"]) / 1e6
        assert cost_nano_usd == pytest.approx(expected * 1e9, abs=1)
