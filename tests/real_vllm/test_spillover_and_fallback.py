"""Saturation seen on the real engine's /metrics spills to the managed provider; a killed engine
falls back to it.

The engine runs with `--max-num-seqs 2`: two long streams fill its batch, a third request waits
in its queue (`vllm:num_requests_waiting` 1), and the policy's `max_waiting: 1` then makes the
gateway send the rest to the emulated managed provider until the queue drains.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.real_vllm.engine import MAX_MODEL_LEN, MAX_NUM_SEQS

pytestmark = [pytest.mark.slow, pytest.mark.real_vllm]

HELLO = [{"role": "user", "content": "Say hello."}]
QUEUED = "saturated: waiting 1 >= max_waiting 1"
# a stream long enough to hold its batch slot for the whole test (closed, so aborted, at its end)
HOLD_BODY = {"model": "auto", "messages": HELLO, "stream": True, "temperature": 0, "ignore_eos": True,
             "max_tokens": MAX_MODEL_LEN - 64}


def _client(stack: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.gateway.v1, api_key="sk-client", max_retries=0, timeout=120)


def _local_verdict(stack: Any) -> dict[str, Any]:
    body = {"model": "auto", "messages": HELLO, "max_tokens": 4}
    decision = httpx.post(f"{stack.gateway.v1}/route/explain", json=body, timeout=10).json()
    return next(c for c in decision["candidates"] if c["backend"] == "local")


def _engine_load(stack: Any) -> tuple[int | None, int | None]:
    """(running, waiting) as the gateway last scraped them from vLLM's /metrics."""
    local = stack.admin("/admin/status")["backends"]["local"]
    return local["running"], local["waiting"]


def _wait_for_scrapes_to_agree(stack: Any, load: tuple[int, int], what: str) -> None:
    """Until two different scrapes in a row show `load` as (running, waiting)."""
    seen: set[str] = set()

    def agreed() -> bool:
        local = stack.admin("/admin/status")["backends"]["local"]
        if (local["running"], local["waiting"]) != load:
            seen.clear()
            return False
        seen.add(local["scraped_at"])
        return len(seen) >= 2

    wait_for(agreed, f"two scrapes in a row to see {what}")


def _served_by(client: openai.OpenAI, count: int) -> Counter[str]:
    def one(_: int) -> str:
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=HELLO, temperature=0, max_tokens=4)
        return raw.headers["x-switchyard-backend"]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(one, range(count)))


def test_a_full_engine_queue_spills_to_the_managed_provider_and_local_takes_traffic_back(real_stack):
    client = _client(real_stack)
    wait_for(lambda: _local_verdict(real_stack)["kept"], "an idle engine")
    with ThreadPoolExecutor(max_workers=1) as queued_pool:
        with ExitStack() as holds:
            for held in range(1, MAX_NUM_SEQS + 1):
                stream = holds.enter_context(httpx.stream("POST", f"{real_stack.gateway.v1}/chat/completions",
                                                          json=HOLD_BODY, timeout=120))
                assert stream.headers["x-switchyard-backend"] == "local"
                # a request shows in vLLM's queue until its first step: let the scrape see it running
                # before the next one is routed
                wait_for(lambda: _engine_load(real_stack) == (held, 0), f"the scrape to see {held} running, none waiting")
            queued = queued_pool.submit(_served_by, client, 1)  # routed to local too: it waits in vLLM's queue
            # The gateway's figure is the scraped queue plus the requests opened since that scrape, so it
            # reads 1 as soon as the request is opened, and 0 again if a scrape lands before vLLM has queued
            # it: wait until a second scrape still says 1, which is then vLLM's own count.
            _wait_for_scrapes_to_agree(real_stack, (MAX_NUM_SEQS, 1), "a request waiting in vLLM's queue")
            verdict = _local_verdict(real_stack)
            assert (verdict["kept"], verdict["reason"]) == (False, QUEUED)
            assert real_stack.admin("/admin/status")["backends"]["local"]["kv_usage"] > 0
            assert _served_by(client, 4) == {"managed": 4}
        # the long streams are closed (aborted in vLLM): the queued request runs, the queue drains
        assert queued.result(timeout=120) == {"local": 1}
    for _ in range(2):
        wait_for(lambda: _engine_load(real_stack) == (0, 0), "the scrape to see the engine drained")
        assert _local_verdict(real_stack)["kept"] is True
        assert _served_by(client, 1) == {"local": 1}


@pytest.mark.kills_engine
def test_a_killed_engine_falls_back_to_the_managed_provider(real_stack):
    if real_stack.engine.process is None:
        pytest.skip("the engine was started elsewhere (SWITCHYARD_REAL_VLLM_URL): not ours to kill")
    real_stack.engine.kill()
    raw = _client(real_stack).chat.completions.with_raw_response.create(model="auto", messages=HELLO, max_tokens=4)
    assert raw.headers["x-switchyard-backend"] == "managed"
    assert raw.parse().choices[0].message.content
    failed, served = real_stack.ledger_records(raw.headers["x-switchyard-request-id"], attempts=2)
    assert (failed["backend"], failed["ok"], failed["error_kind"]) == ("local", False, "connect_error")
    assert (served["backend"], served["ok"], served["fallback_chain"]) == ("managed", True, ["local", "managed"])
