"""Dispatch: fallback on the policy's failure kinds only, attempts reported, bodies rebuilt."""

from __future__ import annotations

import dataclasses
import time

import httpx
import orjson
import pytest

from backends.usage import Usage
from gateway.dispatch import Dispatcher, DispatchRequest, _deltas
from gateway.errors import UpstreamFailedError
from gateway.outcomes import AttemptOutcome
from gateway.runtime import GatewayRuntime
from policies.decision import Decision
from policies.loader import parse_policy_text

POLICY = """
version: 1
backends:
  a: {type: vllm, base_url: "http://a.test/v1", model: model-a, family: deepseek-v3.2}
  b: {type: novita, base_url: "http://b.test/v1", model: model-b, family: deepseek-v3.2,
      price: {input_usd_per_mtok: 1.0, output_usd_per_mtok: 2.0}}
  c: {type: deepseek, base_url: "http://c.test/v1", model: deepseek-v4-flash, family: deepseek-v4-flash}
models: {auto: {}}
routes: [{name: default, use: [a, b, c]}]
fallback: {on: [connect_error, server_error], max_attempts: 2}
"""
OK_BODY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
           "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}


def _runtime(answers: dict[str, int]) -> tuple[GatewayRuntime, list[dict]]:
    """Backends answering with the given status per host; every upstream body is recorded."""
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append({"host": request.url.host, **orjson.loads(request.content)})
        status = answers[request.url.host.split(".")[0]]
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(status, json=OK_BODY if status == 200 else {"error": {"message": f"status {status}"}})

    runtime = GatewayRuntime(parse_policy_text(POLICY), transport=httpx.MockTransport(handler))
    return runtime, sent


def _request(chain: list[str], body: dict | None = None) -> DispatchRequest:
    decision = Decision(route="default", chain=chain, candidates=[], thinking=None)
    return DispatchRequest(request_id="req_1", path="/chat/completions", body=body or {"model": "auto", "messages": []},
                           decision=decision, started=time.perf_counter(), stream=False)


def _outcomes(runtime: GatewayRuntime) -> list[AttemptOutcome]:
    seen: list[AttemptOutcome] = []
    runtime.hub.subscribe(seen.append)
    return seen


async def test_falls_back_on_a_listed_kind_and_reports_both_attempts():
    runtime, sent = _runtime({"a": 503, "b": 200, "c": 200})
    outcomes = _outcomes(runtime)
    call = await Dispatcher(runtime).complete(_request(["a", "b", "c"]))
    assert call.backend == "b"
    assert call.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert [(o.backend, o.ok, o.status, o.error_kind) for o in outcomes] == [("a", False, 503, "server_error"), ("b", True, 200, None)]
    assert [s["model"] for s in sent] == ["model-a", "model-b"]
    assert runtime.state.snapshot()["a"].in_flight == 0


async def test_does_not_fall_back_on_a_kind_the_policy_does_not_list():
    runtime, sent = _runtime({"a": 429, "b": 200, "c": 200})
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request(["a", "b"]))
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert len(sent) == 1


async def test_never_falls_back_on_the_clients_own_mistake():
    runtime, sent = _runtime({"a": 400, "b": 200, "c": 200})
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request(["a", "b"]))
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (400, "client_error", False)
    assert len(sent) == 1


async def test_stops_after_max_attempts():
    runtime, sent = _runtime({"a": 0, "b": 0, "c": 200})
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request(["a", "b", "c"]))
    assert [s["host"] for s in sent] == ["a.test", "b.test"]
    assert caught.value.code == "connect_error" and "tried: a, b" in caught.value.message


@pytest.mark.parametrize(("status", "code"), [(401, "upstream_auth_failed"), (403, "upstream_auth_failed"), (302, "server_error")])
async def test_an_upstream_auth_failure_or_redirect_falls_back_and_is_a_502_when_nothing_absorbs_it(status, code):
    runtime, sent = _runtime({"a": status, "b": 200, "c": 200})
    assert (await Dispatcher(runtime).complete(_request(["a", "b"]))).backend == "b"
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request(["a"]))
    assert (caught.value.status, caught.value.code, caught.value.type) == (502, code, "upstream_error")


def _trip(runtime: GatewayRuntime, backend: str) -> None:
    """Open `backend`'s circuit by failing it as often as the default breaker needs."""
    for attempt in range(runtime.policy.fallback.circuit_breaker.minimum_attempts):
        runtime.state.attempt_started(backend)
        runtime.state.record(AttemptOutcome(
            request_id=f"trip{attempt}", attempt=1, backend=backend, route="default", upstream_model="m", streamed=False,
            ok=False, status=500, error_kind="server_error", latency_ms=1.0, ttft_ms=None, usage=None, cost_usd=None,
            started_at=0.0))


async def test_the_give_up_message_names_only_the_backends_actually_tried():
    runtime, sent = _runtime({"a": 200, "b": 500, "c": 200})
    _trip(runtime, "a")
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request(["a", "b"]))
    assert [s["host"] for s in sent] == ["b.test"]  # a's circuit is open: skipped
    assert caught.value.message.endswith("(tried: b)")


async def test_a_decision_in_panic_mode_tries_a_backend_whose_circuit_is_open():
    runtime, sent = _runtime({"a": 200, "b": 200, "c": 200})
    _trip(runtime, "a")
    request = _request(["a"])
    request.decision = Decision(route="default", chain=["a"], candidates=[], thinking=None, panic=True)
    assert (await Dispatcher(runtime).complete(request)).backend == "a"
    assert runtime.state.circuit_state("a").value == "open"  # a request outside the trial decides nothing


async def test_each_attempt_gets_its_own_body_and_the_clients_is_untouched():
    runtime, sent = _runtime({"a": 500, "b": 200, "c": 200})
    body = {"model": "auto", "messages": [{"role": "user", "content": "x"}], "extra": [1]}
    request = _request(["a", "b"], body)
    request.decision = Decision(route="default", chain=["a", "b"], candidates=[], thinking=False)
    await Dispatcher(runtime).complete(request)
    assert body == {"model": "auto", "messages": [{"role": "user", "content": "x"}], "extra": [1]}
    assert sent[0]["chat_template_kwargs"] == {"thinking": False} and "enable_thinking" not in sent[0]
    assert sent[1]["enable_thinking"] is False and "chat_template_kwargs" not in sent[1]


async def test_an_empty_chain_is_a_503():
    runtime, _ = _runtime({"a": 200, "b": 200, "c": 200})
    with pytest.raises(UpstreamFailedError) as caught:
        await Dispatcher(runtime).complete(_request([]))
    assert caught.value.status == 503


async def test_each_attempt_carries_the_backends_tried_so_far():
    runtime, _ = _runtime({"a": 503, "b": 200, "c": 200})
    outcomes = _outcomes(runtime)
    await Dispatcher(runtime).complete(_request(["a", "b"]))
    assert [o.tried for o in outcomes] == [("a",), ("a", "b")]


async def test_a_non_streamed_answer_reports_no_ttft_and_feeds_its_first_token_part_to_the_figures():
    runtime, _ = _runtime({"a": 200, "b": 200, "c": 200})
    outcomes = _outcomes(runtime)
    await Dispatcher(runtime).complete(_request(["a"]))
    assert outcomes[0].ttft_ms is None and outcomes[0].latency_ms > 0
    state = runtime.state.snapshot()["a"]
    # no stream has shown its TPOT yet: its first-token part is taken as an average token's time (a lower bound)
    assert state.ttft_p95_ms == pytest.approx(outcomes[0].latency_ms / max(outcomes[0].output_tokens, 1))
    assert state.error_rate == 0.0
    assert state.ttft_stats.weight == pytest.approx(1.0, abs=1e-3) and state.tpot_stats is None


async def test_the_answer_waits_for_its_records_to_be_stored():
    runtime, _ = _runtime({"a": 503, "b": 200, "c": 200})
    outcomes = _outcomes(runtime)
    stored_when: list[int] = []

    async def durable() -> None:
        stored_when.append(len(outcomes))

    await Dispatcher(runtime, durable=durable).complete(_request(["a", "b"]))
    assert stored_when == [2]  # once, after both attempts were reported


def _streaming_runtime() -> GatewayRuntime:
    """Backend `a` streams two content events, usage and [DONE]."""
    events = [{"choices": [{"index": 0, "delta": {"content": "o"}}]}, {"choices": [{"index": 0, "delta": {"content": "k"},
              "finish_reason": "stop"}]}, {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2}}]
    sse = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    return GatewayRuntime(parse_policy_text(POLICY), transport=httpx.MockTransport(handler))


def _stream_request() -> DispatchRequest:
    request = _request(["a"])
    request.stream = True
    return request


async def test_a_streams_record_is_stored_before_its_done_event_goes_out():
    runtime = _streaming_runtime()
    outcomes = _outcomes(runtime)
    seen_before_done: list[int] = []

    async def durable() -> None:
        seen_before_done.append(len(outcomes))

    opened = await Dispatcher(runtime, durable=durable).open_stream(_stream_request())
    chunks = [chunk async for chunk in opened.events]
    assert chunks[-1] == b"data: [DONE]\n\n" and b"[DONE]" not in b"".join(chunks[:-1])
    assert seen_before_done == [1] and outcomes[0].ok and outcomes[0].ttft_ms is not None


async def test_a_stream_the_client_left_before_it_started_is_still_reported():
    runtime = _streaming_runtime()
    outcomes = _outcomes(runtime)
    opened = await Dispatcher(runtime).open_stream(_stream_request())
    await opened.events.aclose()  # closed unstarted: the generator's own clean-up never runs
    await opened.abandon()
    await opened.abandon()
    assert [(o.backend, o.ok, o.error_kind) for o in outcomes] == [("a", False, "client_disconnected")]
    assert runtime.state.snapshot()["a"].in_flight == 0


@pytest.mark.parametrize(
    ("events", "deltas"),
    [
        (b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', 1),
        (b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n', 1),  # json.dumps' spaced separators
        (b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n', 0),  # empty: no token
        (b'data: {"choices":[{"delta":{"reasoning_content":"so"}}]}\n\n'
         b'data: {"choices":[{"delta":{"content":"a \\"content\\":\\"b"}}]}\n\n', 2),  # a quoted key inside text is text
        (b'data: {"choices":[{"delta":{"content":null},"finish_reason":"stop"}]}\n\n', 0),
    ],
)
def test_relayed_deltas_count_non_empty_text_and_reasoning(events, deltas):
    assert _deltas(events) == deltas


def _runtime_streaming_without_usage(content_events: int) -> GatewayRuntime:
    """Backend `a` streams `content_events` one-token deltas, each in its own piece, and never reports usage."""
    event = b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": "t"}}]}) + b"\n\n"

    async def pieces():
        for _ in range(content_events):
            yield event

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=pieces(), headers={"content-type": "text/event-stream"})

    return GatewayRuntime(parse_policy_text(POLICY), transport=httpx.MockTransport(handler))


async def test_a_stream_left_before_its_usage_is_billed_from_an_estimate_and_says_so():
    runtime = _runtime_streaming_without_usage(content_events=100)
    outcomes = _outcomes(runtime)
    request = _stream_request()
    request.decision = dataclasses.replace(request.decision, input_tokens=123)
    opened = await Dispatcher(runtime).open_stream(request)
    relayed = [await opened.events.__anext__() for _ in range(70)]  # more than one counting batch
    await opened.events.aclose()  # the client leaves
    [outcome] = outcomes
    assert (outcome.ok, outcome.error_kind) == (False, "client_disconnected")
    assert outcome.usage == Usage(prompt_tokens=123, completion_tokens=b"".join(relayed).count(b'"t"'), estimated=True)
    assert outcome.usage.completion_tokens >= 70
